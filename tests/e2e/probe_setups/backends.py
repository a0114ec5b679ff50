#!/usr/bin/env python3
"""Start 3 tiny HTTP backends on 127.0.0.1 (free ports).

Each answers 200 with header `X-Backend: bN` and body `bN`.
With --jsessionid, a response to a request carrying no JSESSIONID cookie
also sets `JSESSIONID=<random>.bN` (a Tomcat-style route suffix).
Writes the chosen ports to --portfile (one "bN port" line each) and prints them.
"""
import argparse
import http.server
import secrets
import signal
import socketserver
import sys
import threading
from http.cookies import SimpleCookie


def make_handler(name, jsession, cache_hdr=None):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = name.encode()
            self.send_response(200)
            self.send_header("X-Backend", name)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            # echo what the backend actually received (shows balancer rewriting)
            self.send_header("X-Seen-Cookie", self.headers.get("Cookie", "-"))
            if cache_hdr:
                self.send_header("Cache-Control", cache_hdr)
            if jsession:
                c = SimpleCookie(self.headers.get("Cookie", ""))
                if "JSESSIONID" not in c:
                    self.send_header("Set-Cookie",
                        f"JSESSIONID={secrets.token_hex(8)}.{name}; Path=/")
            self.end_headers()
            self.wfile.write(body)
        do_HEAD = do_GET
        def log_message(self, fmt, *a):
            pass
    return H

class Srv(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jsessionid", action="store_true")
    ap.add_argument("--portfile", default="ports.txt")
    ap.add_argument("--cache-control", default=None,
                    help="also send this Cache-Control value (e.g. max-age=60)")
    ap.add_argument("--ports", default="", help="comma list of fixed ports (0=free)")
    a = ap.parse_args()
    fixed = [int(p) for p in a.ports.split(",")] if a.ports else [0, 0, 0]
    servers = []
    for i, p in enumerate(fixed, 1):
        s = Srv(("127.0.0.1", p), make_handler(f"b{i}", a.jsessionid, a.cache_control))
        servers.append((f"b{i}", s))
        threading.Thread(target=s.serve_forever, daemon=True).start()
    lines = [f"{n} {s.server_address[1]}" for n, s in servers]
    open(a.portfile, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Event().wait()

if __name__ == "__main__":
    main()
