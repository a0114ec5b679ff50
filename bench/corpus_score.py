"""Print how the audit reads the real cookie corpus (tests/data/corpus/): per balancer, how many values
it names right, how many decodable values it reads exactly, and any false leak; then each miss.

    .venv/bin/python bench/corpus_score.py [--misses]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.corpus

from stickyguard.audit import catalog as catalog_mod  # noqa: E402
from stickyguard.audit import rules  # noqa: E402
from tests.corpus import scoring  # noqa: E402


def main() -> int:
    rows = scoring.score(catalog_mod.load([rules.RULES_DIR]))
    sys.stdout.write(scoring.markdown(rows))
    if "--misses" in sys.argv[1:]:
        for row in rows.values():
            for miss in row.misses:
                print(f"{row.vendor}: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
