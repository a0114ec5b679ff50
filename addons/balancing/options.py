"""The balancer's options, declared once. The addon registers them with mitmproxy (`--set NAME=VALUE`,
`:set` in the console, mitmweb's options), and `stickyguard balance` makes its flags and help from the
same list, so every option is reachable from both and their words cannot drift apart.

Options every kind shares are here; an option only one kind reads is declared in that kind's module
(kinds/*.py) and joins the list through the registry (kinds/__init__.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import Optional

from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing.admin import parse_address
from stickyguard.addons.balancing.forwarding import DEFAULT_ERROR_BODY

SECRET_ENV = "STICKYGUARD_BALANCE_SECRET"


@dataclasses.dataclass(frozen=True)
class Option:
    name: str  # balance_*
    typespec: Any  # one mitmproxy can parse from --set: str, int, Optional[str], collections.abc.Sequence[str]
    default: Any
    help: str  # one paragraph, no type information (mitmproxy's rule for option help)
    flag: str = ""  # the launcher's flag when it is not --NAME-without-balance_
    metavar: str | None = None
    choices: tuple[str, ...] = ()  # named in the help; the check enforces them
    check: Callable[[Any], str | None] | None = None  # what is wrong with a value, or None
    secret: bool = False  # never printed back (the launcher's equivalent mitmdump command)

    @property
    def launcher_flag(self) -> str:
        return self.flag or "--" + self.name.removeprefix("balance_").replace("_", "-")

    @property
    def repeated(self) -> bool:
        return self.typespec == Sequence[str]

    @property
    def shown_default(self) -> str:
        """The default as help and the README show it; empty where there is none to show."""
        return "" if self.default in (None, [], "") else str(self.default)

    @property
    def full_help(self) -> str:
        return f"{self.help} One of: {', '.join(self.choices)}." if self.choices else self.help

    def problem(self, value: Any) -> str | None:
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}"
        return self.check(value) if self.check else None


def admin_address(value: Any) -> str | None:
    if not value:
        return None
    try:
        parse_address(value)
    except ValueError as e:
        return f"balance_{e}"
    return None


def positive(name: str) -> Callable[[Any], str | None]:
    return lambda value: None if value > 0 else f"{name} must be positive"


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def cookie_name(name: str) -> Callable[[Any], str | None]:
    """A cookie name is an RFC 6265 token (RFC 9110 section 5.6.2): not empty, no separators."""
    return lambda value: None if _TOKEN.fullmatch(value or "") else f"{name} must be a cookie name, not {value!r}"


def between(name: str, low: int, high: int) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"{name} must be {low}-{high}"


COMMON: tuple[Option, ...] = (
    Option("balance_backends", Sequence[str], [],
           "A backend, NAME=URL[,weight=N][,route=ID]; repeat the option for each backend.",
           flag="--backend", metavar="NAME=URL[,weight=N][,route=ID]"),
    Option("balance_affinity", str, "cookie", "How sessions stick."),  # choices: the registry fills them
    Option("balance_cookie_name", str, "sg_affinity",
           "Name of the balancer's own cookie (sent as __Host-NAME over HTTPS).",
           check=cookie_name("balance_cookie_name")),
    Option("balance_secret", Optional[str], None,
           f"Secrets for the affinity cookie and the keyed hashes, comma separated, the first seals; else "
           f"${SECRET_ENV}; else balance_secret_file. A command line is visible to other local users: prefer "
           f"the variable or the file.", secret=True),
    Option("balance_secret_file", str, "~/.stickyguard/balance-secret",
           "File with the secrets; created with a random secret when missing."),
    Option("balance_app_cookie", str, "JSESSIONID",
           "The application's session cookie (app-cookie learns it; route reads its .route suffix).",
           check=cookie_name("balance_app_cookie")),
    Option("balance_trusted_proxies", Sequence[str], [],
           "Networks whose X-Forwarded-For (ip affinity) and X-Forwarded-Proto (a TLS terminator in front: the "
           "cookie becomes __Host- and Secure) are believed.", flag="--trusted-proxy", metavar="CIDR"),
    Option("balance_policy", str, "p2c",
           "How new sessions are placed: p2c takes the less loaded of two backends picked by weight.",
           choices=backends.POLICIES),
    Option("balance_health", Optional[str], "tcp",
           "Health checks: tcp (connect, and any HTTP answer to HEAD /), http:/PATH (an answer below 500) or "
           "connect (a connection only), with ,interval=2,timeout=0.5,rise=2,fall=3 (seconds, the defaults). "
           "`fall` failed requests in a row in real traffic (a 5xx, a timeout, an answer that is not HTTP) also "
           "take a backend down. Empty turns both off."),
    Option("balance_forwarded", bool, True,
           "Add X-Forwarded-For, -Proto and -Host to requests sent to backends (a chain the client sent is "
           "extended only from a trusted proxy, else replaced)."),
    Option("balance_strip_cookie", bool, True,
           "Take the balancer's own cookie out of requests sent to backends (HAProxy's indirect)."),
    Option("balance_error_body", str, DEFAULT_ERROR_BODY,
           "Body of the 503 (no backend reachable) or 502 (a backend failed the request and it was not sent "
           "again) the balancer answers itself; it names no backend, port or software version."),
    Option("balance_admin", Optional[str], None,
           "Runtime API, metrics and status page (stickyguard ctl): unix:PATH (a socket only its owner may use) "
           "or 127.0.0.1:PORT (loopback, with the token in balance_admin_token_file).", check=admin_address),
    Option("balance_admin_token_file", str, "~/.stickyguard/admin-token",
           "The TCP runtime API's token; created with a random token when missing."),
    Option("balance_access_log", Optional[str], None,
           "Write one JSON line per request to this file: time, backend, affinity decision, status, duration; "
           "the client only as a keyed hash."),
    Option("balance_retries", int, 2,
           "Times a request that failed before any response byte is sent again, each time to another backend: "
           "idempotent requests always, others only when the backend never received them. 0 leaves upstream "
           "traffic to mitmproxy (streamed bodies, no retries).", check=between("balance_retries", 0, 10)),
    Option("balance_connect_timeout", int, 3,
           "Seconds to open a connection to a backend (a lost SYN is sent again after 1 s).",
           check=between("balance_connect_timeout", 1, 60)),
    Option("balance_response_timeout", int, 30,
           "Seconds a backend may take to begin its response once it has the request; past that the try fails "
           "(and is retried when it may be).", check=between("balance_response_timeout", 1, 3600)),
    Option("balance_read_timeout", int, 30,
           "Seconds a backend may go silent in the middle of a response before the balancer gives up on it.",
           check=between("balance_read_timeout", 1, 3600)),
    Option("balance_client_timeout", int, 30,
           "Seconds a client has to send a request's headers, counted from its connection or its previous "
           "response: a half-sent request or an idle keep-alive connection is closed after it.",
           check=between("balance_client_timeout", 1, 3600)),
    Option("balance_idle_timeout", int, 1800, "Seconds a session may be idle.",
           check=positive("balance_idle_timeout")),
    Option("balance_absolute_timeout", int, 43200, "Seconds a session may last.",
           check=positive("balance_absolute_timeout")),
)
