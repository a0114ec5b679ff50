"""Paired CPU per request of the balancer at two git revisions (or one against itself, the control).

Both run at the same time on the same core, as bench/paired.py measures (three backends a side, CPU
from /proc, medians with min-max), after a control pair of the base revision against itself.

    .venv/bin/python bench/balancer_versions.py BASE [--rounds 5] [--requests 800] [--set NAME=VALUE ...]

BASE is any git revision (e.g. HEAD~3); the other side is the working tree. `--set` options go to the
working tree's balancer only (e.g. balance_access_log=/tmp/access.log to price the access log).
Loopback only; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paired  # noqa: E402  (bench/ is not a package)


def shadow(tree: Path, where: Path) -> Path:
    """A folder whose `stickyguard` package is `tree`'s audit/ and addons/ (PYTHONPATH wins over the
    editable install, whose finder comes after the path finder)."""
    audit = where / "stickyguard" / "audit"
    audit.mkdir(parents=True)
    for entry in (tree / "audit").iterdir():  # entry by entry, so rules/ can join as rules_data (as installed)
        (audit / entry.name).symlink_to(entry)
    (audit / "rules_data").symlink_to(tree / "rules")
    (where / "stickyguard" / "addons").symlink_to(tree / "addons")
    return where


def side(label: str, tree: Path, extra: list[str]) -> paired.Side:
    return paired.Side(label, paired.balancer(extra, tree), pythonpath=tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an option for the working tree's balancer only")
    args = parser.parse_args()
    if problem := paired.check_machine():
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sg-versions-"))
    tree = work / "base-tree"
    subprocess.run(["git", "-C", str(paired.ROOT), "worktree", "add", "-q", "--detach", str(tree), args.base],
                   check=True)
    try:
        base, current = shadow(tree, work / "base"), shadow(paired.ROOT, work / "current")
        extra = [x for s in args.set for x in ("--set", s)]
        traffic = paired.Traffic()
        for label, ratios in (
                ("control: base/base", paired.ratios(side("base", base, []), side("base", base, []), traffic,
                                                     args.rounds, args.requests)),
                (f"working tree/{args.base}", paired.ratios(side("base", base, []), side("tree", current, extra),
                                                            traffic, args.rounds, args.requests))):
            median, low, high = paired.summary(ratios)
            print(f"{label}: median {median:.3f} (min {low:.3f}, max {high:.3f}) "
                  f"over {len(ratios)} rounds of {args.requests} requests each")
    finally:
        subprocess.run(["git", "-C", str(paired.ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
