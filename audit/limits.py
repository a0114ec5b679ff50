"""Bounds on input nobody here wrote, so that no capture, recording, rule file or site can make the
audit hang, recurse without end or fill memory. What a bound cuts is reported, never dropped silently."""

from __future__ import annotations

import json
from typing import Any

# Bytes of one cookie value decoded and searched: browsers keep at most 4096 bytes of name and value
# (RFC 6265 section 6.1); a longer value is searched in its first MAX_VALUE characters.
MAX_VALUE = 4096
# Set-Cookie lines judged per response: Chrome keeps at most 180 cookies per domain.
MAX_SET_COOKIES = 180
# Notices about cuts kept per audit: one hostile capture must not turn into a report of notices.
MAX_NOTICES = 100
# Rule files are a few kB; the catalog tens of kB.
MAX_RULE_FILE = 256 * 1024


def loads(text: str | bytes) -> Any:
    """json.loads, where nesting too deep for Python is a ValueError like any other malformed JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
