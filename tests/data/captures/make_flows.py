"""Writes app.mitm, the small mitmproxy flow file the tests audit, and bad/truncated.mitm.

Run from the repository root: python tests/data/captures/make_flows.py
The committed files are what the golden reports pin; rerun only to change the scenario.
"""

from pathlib import Path

from mitmproxy import io
from mitmproxy.test import tflow
from mitmproxy.test import tutils

HERE = Path(__file__).parent
EXCHANGES = [
    ("https", "app.example.net", 443, "/", [
        "BIGipServerapp_pool=rd2o00000000000000000000ffffc0a80a0ao8080; path=/; HttpOnly; Secure",
    ]),
    ("http", "app.example.net", 80, "/login", [
        "INGRESSCOOKIE=1598371152.898.2320.533481|a1b2c3d4e5f60718293a4b5c6d7e8f90; Path=/; HttpOnly",
    ]),
    ("https", "app.example.net", 443, "/account", [
        "__Host-lb=tok3n; Path=/; Secure; HttpOnly; SameSite=Lax; Domain=app.example.net",
        "BIGipServerv6_pool=vifd000000000000000000000000000042.20480; path=/; Secure; HttpOnly; SameSite=Lax",
    ]),
    ("https", "app.example.net", 443, "/static/logo.png", []),
    ("https", "app.example.net", 443, "/", [
        "BIGipServerapp_pool=rd2o00000000000000000000ffffc0a80a0bo8080; path=/; HttpOnly; Secure",
        "lang=en; Path=/; Max-Age=31536000; SameSite=Lax",
    ]),
]


def flows():
    for scheme, host, port, path, cookies in EXCHANGES:
        req = tutils.treq(scheme=scheme.encode(), host=host, port=port, path=path.encode(),
                          authority=b"", headers=[(b"host", host.encode()), (b"sec-fetch-dest", b"document")])
        resp = tutils.tresp(headers=[(b"date", b"Sat, 01 Jan 2000 00:00:00 GMT"),
                                     *[(b"set-cookie", c.encode()) for c in cookies]])
        yield tflow.tflow(req=req, resp=resp)


def main() -> None:
    out = HERE / "app.mitm"
    with open(out, "wb") as f:
        writer = io.FlowWriter(f)
        for flow in flows():
            writer.add(flow)
    data = out.read_bytes()
    bad = HERE.parent / "bad" / "truncated.mitm"
    # Cut inside the third flow: the first two must still be audited.
    starts = []
    with open(out, "rb") as f:
        reader = io.FlowReader(f)
        pos = 0
        for _ in reader.stream():
            starts.append(pos)
            pos = f.tell()
    bad.write_bytes(data[: starts[2] + 200])
    print(f"wrote {out} ({len(data)} bytes) and {bad}")


if __name__ == "__main__":
    main()
