"""The floor of audit/: the records every layer above passes along, and nothing that imports them.

An `Exchange` is one HTTP response as a reader found it (in a HAR, a flow file, a recording, pasted
headers or live traffic); an `InputError` is a capture that could not be read whole.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def visible(text: str) -> str:
    """Text that can be written anywhere as UTF-8. Bytes that were not UTF-8 (which Python keeps as lone
    surrogates, U+DC80-U+DCFF) become `\\xff` escapes; other lone surrogates (a HAR's `\\ud800`) `\\ud800`."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(_escape_surrogate, text)


def _escape_surrogate(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def map_strings(data: Any, fn: Callable[[str], str]) -> Any:
    """`fn` over every string in JSON-shaped data (dict keys too); other values as they are."""
    if isinstance(data, str):
        return fn(data)
    if isinstance(data, dict):
        return {map_strings(k, fn): map_strings(v, fn) for k, v in data.items()}
    if isinstance(data, list):
        return [map_strings(v, fn) for v in data]
    return data


def visible_data(data: Any) -> Any:
    """visible() over every string in parsed JSON (keys too)."""
    return map_strings(data, visible)


def _visible_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if all(k.isascii() and v.isascii() for k, v in headers):
        return headers
    return [(visible(k), visible(v)) for k, v in headers]


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

    def __post_init__(self) -> None:
        # Whatever bytes a capture or a server sent, every string downstream can be written as UTF-8.
        self.url = visible(self.url)
        self.top_level_url = visible(self.top_level_url) if self.top_level_url else self.top_level_url
        self.request_headers = _visible_headers(self.request_headers)
        self.response_headers = _visible_headers(self.response_headers)
        self.source, self.place = visible(self.source), visible(self.place)

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

    def __post_init__(self) -> None:
        self.input, self.place, self.message = visible(self.input), visible(self.place), visible(self.message)

    def __str__(self) -> str:
        where = f"{self.input}: {self.place}" if self.place else self.input
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
