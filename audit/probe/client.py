"""One HTTP request of the probe: no redirects followed, no cookie jar of its own, a bounded body, a
source address when asked (to show source-IP affinity from several 127.0.0.x or local addresses)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import ssl
import time
from urllib.parse import urlsplit

USER_AGENT = "stickyguard-probe/{version} (+https://github.com/stickyguard/stickyguard; session affinity probe)"
MAX_BODY = 1 << 20  # bytes of a body read for its fingerprint; the rest is left unread


@dataclasses.dataclass(frozen=True)
class Response:
    status: int | None  # None: no answer (the error says why)
    headers: tuple[tuple[str, str], ...]
    body_digest: str  # a short hash of the first MAX_BODY bytes, "" when there was no body
    seconds: float
    error: str | None = None
    at: float = 0.0  # when it was asked (seconds since the epoch)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_cookie_lines(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


def fetch(url: str, cookies: dict[str, str], user_agent: str, timeout: float,
          source: str | None = None, verify: bool = True) -> Response:
    """GET `url` with `cookies`, on a fresh connection (so each request is placed on its own)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    bind = (source, 0) if source else None
    started, at = time.monotonic(), time.time()
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                        source_address=bind, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=bind)
    headers = {"User-Agent": user_agent, "Accept": "*/*", "Connection": "close"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        body = answer.read(MAX_BODY)
        return Response(answer.status, tuple(answer.getheaders()),
                        hashlib.sha256(body).hexdigest()[:16] if body else "", time.monotonic() - started, at=at)
    except (OSError, http.client.HTTPException) as e:
        return Response(None, (), "", time.monotonic() - started, error=_why(e), at=at)
    finally:
        conn.close()


def _why(error: Exception) -> str:
    """A failure in words, without the address it happened on (os.strerror for system errors)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or 'handshake failed'}"
    if isinstance(error, OSError) and error.errno is not None:
        import os

        return os.strerror(error.errno)
    return type(error).__name__
