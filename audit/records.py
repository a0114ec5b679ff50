"""The floor of audit/: the records every layer above passes along, and nothing that imports them.

An `Exchange` is one HTTP response as a reader found it (in a HAR, a flow file, a recording, pasted
headers or live traffic); an `InputError` is a capture that could not be read whole.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Exchange:
    """One HTTP response and what a cookie audit needs of its request."""

    url: str
    method: str
    status: int | None
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    timestamp: float | None
    top_level_url: str | None
    source: str
    place: str
    server_ip: str | None = None
    # Per Set-Cookie line, classification and decoded evidence a recording already carries.
    cookie_facts: list[dict[str, Any] | None] | None = None

    def response_header(self, name: str) -> str | None:
        return _first(self.response_headers, name)

    def request_header(self, name: str) -> str | None:
        return _first(self.request_headers, name)

    def set_cookie_lines(self) -> list[str]:
        lines: list[str] = []
        for k, v in self.response_headers:
            if k.lower() == "set-cookie":
                # Some HAR writers fold several Set-Cookie headers into one value with newlines.
                lines.extend(part for part in v.split("\n") if part.strip())
        return lines


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


@dataclasses.dataclass
class InputError:
    """A capture that could not be read whole: which file, where, and what was wrong."""

    input: str
    place: str
    message: str

    def __str__(self) -> str:
        where = f"{self.input}: {self.place}" if self.place else self.input
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
