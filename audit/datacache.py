"""Rule data already parsed and checked, kept by digest: a run whose rule files did not change skips the
YAML parser and the schema validator (two thirds of a small audit's time went there).

An entry is the plain data of one valid file, as JSON (data, never code), named by a digest of the file's
bytes and name, the schema, stickyguard's version and the operators the code knows. Any change to one of
them is a different name, so an entry is never stale; invalid files are never kept. The folder is
$STICKYGUARD_CACHE_DIR, else $XDG_CACHE_HOME/stickyguard, else ~/.cache/stickyguard; `STICKYGUARD_CACHE_DIR=`
(empty) turns the cache off. A folder that cannot be written only costs the time saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV = "STICKYGUARD_CACHE_DIR"


def folder() -> Path | None:
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return Path(chosen) / "rules" if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stickyguard" / "rules"


def key(*parts: Iterable[str | bytes] | str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        for item in [part] if isinstance(part, (str, bytes)) else part:
            data = item.encode() if isinstance(item, str) else item
            digest.update(len(data).to_bytes(8, "big") + data)  # lengths keep ("ab", "c") from ("a", "bc")
    return digest.hexdigest()


def get(name: str) -> Any | None:
    where = folder()
    if where is None:
        return None
    try:
        return json.loads((where / f"{name}.json").read_bytes())
    except (OSError, ValueError):
        return None  # absent, unreadable or cut short: parse the file again


def put(name: str, data: Any) -> None:
    where = folder()
    if where is None:
        return
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".entry-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, where / f"{name}.json")  # whole or not at all, also with runs side by side
    except OSError:
        Path(tmp).unlink(missing_ok=True)
