"""Rule data on disk, read the one way rules and the catalog share: where rules/ is, YAML that keeps
line numbers, checks against rules/schema.json, and problems worded `file:line: where: what`."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from stickyguard.audit import datacache
from stickyguard.audit import limits

if TYPE_CHECKING:  # the parser and the validator load only when a file is not in the cache
    from jsonschema import Draft202012Validator
    from ruamel.yaml import YAML


def _default_rules_dir() -> Path:
    """Rules ship inside the wheel as stickyguard/audit/rules_data; a checkout keeps them in rules/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules_data", here.parent / "rules"):
        if (candidate / "schema.json").is_file():
            return candidate
    raise RuntimeError(f"stickyguard's rules/ folder is missing next to {here}")


RULES_DIR = _default_rules_dir()
CATALOG_FILE = "affinity-cookies.yaml"

# The one hint a schema message lacks: what to write.
HINTS = {
    "basis": "cite the RFC section, law or regulator text this finding touches",
    "references": "give at least one https:// URL with more on the problem",
    "tests": "add examples that must match and must not match",
    "cwe": "name the CWE, e.g. [CWE-614]",
}


class RuleFileError(Exception):
    """One or more rule files are invalid; `problems` are `file:line: message` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@functools.cache
def schema() -> dict[str, Any]:
    from jsonschema import Draft202012Validator

    data = json.loads((RULES_DIR / "schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(data)
    return data


@functools.cache
def _validator(defname: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from jsonschema import FormatChecker

    return Draft202012Validator(
        {"$ref": f"#/$defs/{defname}", "$defs": schema()["$defs"]},
        format_checker=FormatChecker(),
    )


# The code that decides whether rule data is valid: a cached verdict holds only while it is unchanged.
_CHECKERS = ("datafiles.py", "rules.py", "catalog.py", "conditions.py", "decoders.py")


@functools.cache
def _checker_digest() -> str:
    here = Path(__file__).resolve().parent
    return datacache.key(
        [(here / name).read_bytes() for name in _CHECKERS], (RULES_DIR / "schema.json").read_bytes()
    )


def load_checked(path: Path, defname: str, check: Callable[[Path, Any], list[str]]) -> tuple[Any, list[str]]:
    """The plain data of a valid rule data file (YAML, schema `defname`, then `check`), or its problems.
    A valid file's data is cached by digest (audit/datacache.py), so an unchanged file is not parsed again."""
    try:
        raw = path.read_bytes() if path.stat().st_size <= limits.MAX_RULE_FILE else None
    except OSError:
        raw = None  # load_yaml says what is wrong with it
    name = datacache.key(defname, path.name, raw, _checker_digest()) if raw is not None else None
    if name is not None:
        data = datacache.get(name)
        if data is not None:
            return data, []
    data, problems = load_yaml(path)
    problems = problems or validate(path, data, defname)
    problems = problems or check(path, data)
    if problems:
        return None, problems
    data = plain(data)
    if name is not None:
        datacache.put(name, data)
    return data, []


def load_yaml(path: Path) -> tuple[Any, list[str]]:
    """Round-trip load, which keeps line numbers; a syntax error becomes a problem line. Rule data is
    data only: a file over limits.MAX_RULE_FILE, YAML anchors and aliases (a few hundred bytes of them
    expand to gigabytes) and nesting too deep to read are refused, each as a problem line."""
    try:
        size = path.stat().st_size
        if size > limits.MAX_RULE_FILE:
            return None, [f"{path}:1: {size} bytes; a rule data file may have at most {limits.MAX_RULE_FILE}"]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, [f"{path}:1: cannot read: {e}"]
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        try:
            refused = _refused(yaml, text)
        except MarkedYAMLError:
            refused = None  # a syntax error: the load below says where, as the parser sees it
        if refused:
            return None, [f"{path}:{refused[0]}: {refused[1]}"]
        return yaml.load(text), []
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: YAML syntax: {e.problem or e.context}"]
    except RecursionError:
        return None, [f"{path}:1: YAML nested too deeply to read"]


MAX_NESTING = 64  # collections inside collections; rule data uses a handful
_OPENS = {"FlowSequenceStartToken", "FlowMappingStartToken", "BlockSequenceStartToken", "BlockMappingStartToken"}
_CLOSES = {"FlowSequenceEndToken", "FlowMappingEndToken", "BlockEndToken"}
_ALIASES = "YAML anchors and aliases are not allowed in rule data; write the value out"


# A quoted scalar where one can begin (line start, after `: `, `- `, `[`, `{` or `,`): brackets, `&` and
# `*` inside it are text (the catalog's value regexes are full of them). A quote anywhere else is left in.
_QUOTED = re.compile(r"""(?:(?<=^)|(?<=[\s\[{,]))(?:'(?:[^'\n]|'')*'|"(?:[^"\\\n]|\\.)*")""", re.M)


def _could_be_refused(text: str) -> bool:
    """Cheap first look, so ordinary rule files skip the token scan: an anchor needs `&`, an alias `*`,
    and nesting past MAX_NESTING needs that many brackets, that much indentation or that many `- `
    (quoted scalars set aside, since what they hold is text)."""
    bare = _QUOTED.sub("''", text)
    if "&" in bare or "*" in bare or bare.count("[") + bare.count("{") > MAX_NESTING:
        return True
    return any(len(line) - len(line.lstrip()) >= MAX_NESTING or line.count("- ") > MAX_NESTING // 2
               for line in text.splitlines())


def _refused(yaml: YAML, text: str) -> tuple[int, str] | None:
    """(line, why) for what rule data may not hold, found in the token stream before anything is built
    (the parser takes seconds per thousand levels of nesting before it gives up): anchors and aliases,
    and nesting deeper than MAX_NESTING. Brackets inside strings and comments are not tokens."""
    if not _could_be_refused(text):
        return None
    depth = 0
    for token in yaml.scan(text):
        name = type(token).__name__
        if name in ("AnchorToken", "AliasToken"):
            return token.start_mark.line + 1, _ALIASES
        if name in _OPENS:
            depth += 1
            if depth > MAX_NESTING:
                return token.start_mark.line + 1, f"YAML nested too deeply to read (more than {MAX_NESTING} levels)"
        elif name in _CLOSES:
            depth -= 1
    return None


def validate(path: Path, data: Any, defname: str) -> list[str]:
    """Schema problems of one document, each with the line it is on, sorted by line."""
    if data is None:
        return [f"{path}:1: the file is empty"]
    found = []
    for error in _validator(defname).iter_errors(data):
        line = line_of(data, list(error.absolute_path))
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        message = error.message
        if error.validator == "required":
            missing = message.split("'")[1] if "'" in message else ""
            if missing in HINTS:
                message += f" ({HINTS[missing]})"
        found.append((line, f"{path}:{line}: {where}: {message}"))
    return [text for _, text in sorted(found)]


def line_of(doc: Any, path: list) -> int:
    """1-based line of the deepest node on `path` that carries a position."""
    line = getattr(getattr(doc, "lc", None), "line", 0)
    node = doc
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(key, str):
                line = lc.key(key)[0]
            elif lc is not None:
                line = lc.item(key)[0]
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line + 1


def plain(data: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data
