"""Time, the one way the toolkit reads and writes it: now (or SOURCE_DATE_EPOCH, for reproducible
reports), UTC timestamps in ISO 8601 with a `Z`, and durations in words."""

from __future__ import annotations

import email.utils
import os
import time
from datetime import datetime
from datetime import timezone


def now() -> float:
    """Seconds since the epoch: SOURCE_DATE_EPOCH when it is set (reproducible builds' convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return float(epoch) if epoch.isdigit() else time.time()


def utc_iso(seconds: float, timespec: str = "seconds") -> str:
    """`2025-01-01T10:00:00Z`; timespec as datetime.isoformat takes it (`milliseconds` for recordings)."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc_iso(text: str) -> float:
    """The inverse of utc_iso (any ISO 8601 time with a `Z` or an offset); ValueError when it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso_seconds(value: object) -> float | None:
    """An ISO 8601 time found in a capture (HAR startedDateTime, WEC's start_time) as seconds, or None
    when it is missing or not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc_iso(value)
    except ValueError:
        return None


def http_date(seconds: float) -> str:
    """An HTTP date; past what Python's datetime can hold (year 9999), the last moment it can."""
    try:
        return email.utils.formatdate(seconds, usegmt=True)
    except (ValueError, OverflowError, OSError):
        return "Fri, 31 Dec 9999 23:59:59 GMT" if seconds > 0 else "Thu, 01 Jan 1970 00:00:00 GMT"


def generated_at() -> str:
    """When a report is generated: now, or SOURCE_DATE_EPOCH when set."""
    return utc_iso(int(now()))


def human_duration(seconds: int | None) -> str:
    """`400 days`, `1.5 hours`; None is a session cookie's lifetime."""
    if seconds is None:
        return "session"
    units = (("years", 365 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60))
    for name, size in units:
        # Count in days up to two years, so the 400-day cap reads as "400 days".
        if seconds >= size and (name != "years" or seconds >= 2 * size):
            amount = seconds / size
            text = f"{amount:.1f}".rstrip("0").rstrip(".")
            return f"{text} {name if text != '1' else name[:-1]}"
    return f"{seconds} seconds" if seconds != 1 else "1 second"
