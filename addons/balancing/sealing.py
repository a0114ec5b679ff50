"""The balancer's own affinity cookie value: opaque, authenticated, with rotatable keys.

A token is AES-256-GCM over (backend id, issued-at, refreshed-at), so it names no backend,
address, port or pool to the client, and any edit fails authentication: a client can neither read
the topology nor steer itself to a server of its choice. Keys rotate: the first secret seals, every
listed secret opens, so adding a new secret in front loses no session. Idle and absolute
timeouts are enforced from the token's own timestamps, so the cookie itself can be a session
cookie with no Expires or Max-Age. Plain logic, no mitmproxy import.

Token: "s1." + base64url(key id (1) | nonce (12) | ciphertext with tag), no padding.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import secrets
import struct
import time
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "s1."
_INFO = b"stickyguard affinity token v1"
_HEADER = struct.Struct(">II")  # issued-at, refreshed-at (Unix seconds)
MAX_BACKEND_ID = 64  # bytes; backend ids are names from the configuration
MIN_SECRET = 16  # bytes of secret at least
# Tokens already authenticated, kept so a returning client's token is not decrypted again on each request
# (a client sends the same token until it is refreshed); their timestamps are checked every time.
OPENED_CACHE = 8192


class InvalidToken(ValueError):
    """The token cannot be trusted; `reason` says why (for counting, never shown to the client)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Opened:
    backend: str
    issued_at: int
    refreshed_at: int
    key_index: int  # 0 when sealed with the current key; more means an older key

    def needs_refresh(self, now: float, idle_timeout: int) -> bool:
        """Re-seal when a quarter of the idle budget has passed, or when an old key sealed it."""
        return self.key_index > 0 or now - self.refreshed_at >= idle_timeout / 4


def _derive(secret: bytes) -> tuple[int, AESGCM]:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return hashlib.sha256(key).digest()[0], AESGCM(key)


class Sealer:
    def __init__(
        self,
        secrets_: Sequence[bytes],
        idle_timeout: int = 30 * 60,
        absolute_timeout: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ):
        if not secrets_:
            raise ValueError("at least one secret is needed")
        short = [i for i, s in enumerate(secrets_) if len(s) < MIN_SECRET]
        if short:
            raise ValueError(f"secret {short[0] + 1} is shorter than {MIN_SECRET} bytes")
        if idle_timeout <= 0 or absolute_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.keys = [_derive(s) for s in secrets_]
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.clock = clock
        self._opened: dict[str, Opened] = {}  # token -> what it holds, authenticated (OPENED_CACHE at most)

    def seal(self, backend: str, issued_at: int | None = None) -> str:
        raw = backend.encode()
        if not 0 < len(raw) <= MAX_BACKEND_ID:
            raise ValueError(f"backend id must be 1-{MAX_BACKEND_ID} bytes")
        now = int(self.clock())
        key_id, aead = self.keys[0]
        nonce = os.urandom(12)
        header = bytes([key_id])
        body = aead.encrypt(nonce, _HEADER.pack(issued_at if issued_at is not None else now, now) + raw, header)
        return PREFIX + base64.urlsafe_b64encode(header + nonce + body).rstrip(b"=").decode()

    def open(self, token: str) -> Opened:
        """The backend a token names, or InvalidToken: malformed, forged, expired-idle, expired-absolute."""
        opened = self._opened.get(token)
        if opened is None:
            opened = self._authenticate(token)
            if len(self._opened) >= OPENED_CACHE:
                del self._opened[next(iter(self._opened))]  # the oldest
            self._opened[token] = opened
        now = self.clock()
        if now - opened.issued_at > self.absolute_timeout:
            raise InvalidToken("expired-absolute")
        if now - opened.refreshed_at > self.idle_timeout:
            raise InvalidToken("expired-idle")
        return opened

    def _authenticate(self, token: str) -> Opened:
        """What a token holds, when one of the keys sealed it; else InvalidToken (malformed or forged)."""
        if not token.startswith(PREFIX) or len(token) > 256:
            raise InvalidToken("malformed")
        text = token[len(PREFIX):]
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, TypeError):
            raise InvalidToken("malformed") from None
        if len(blob) < 1 + 12 + _HEADER.size + 1 + 16:
            raise InvalidToken("malformed")
        header, nonce, body = blob[:1], blob[1:13], blob[13:]
        for index, (key_id, aead) in enumerate(self.keys):
            if key_id != header[0]:
                continue
            try:
                plain = aead.decrypt(nonce, body, header)
            except InvalidTag:
                continue
            issued, refreshed = _HEADER.unpack(plain[: _HEADER.size])
            try:
                backend = plain[_HEADER.size:].decode()
            except UnicodeDecodeError:
                raise InvalidToken("forged") from None
            return Opened(backend, issued, refreshed, index)
        raise InvalidToken("forged")


def parse_secrets(text: str) -> list[bytes]:
    """Secrets as written in an option, the environment or a file: comma or newline separated,
    the first one seals. Blank entries and surrounding spaces are ignored."""
    items = [s.strip() for s in text.replace("\n", ",").split(",")]
    return [s.encode() for s in items if s]


def create_secret_file(path: Path) -> str:
    """A new random secret written to `path`, which must not exist: the file 0600, a new folder 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    return secret


def load_or_create_secret(path: Path) -> list[bytes]:
    """Secrets from `path`; when it does not exist, a new random secret is written there
    (mode 0600) so a restart of the proxy does not re-pin every client."""
    try:
        mode = path.stat().st_mode
        if mode & 0o022:
            raise ValueError(f"{path} is writable by other users (mode {mode & 0o777:o}): anyone who can "
                             f"write it chooses the balancer's key; chmod 600 it")
        found = parse_secrets(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [create_secret_file(path).encode()]
    if not found:
        raise ValueError(f"{path} holds no secret")
    return found
