# `make test` works on a fresh machine with only Python: it makes .venv and runs every test.
PYTHON ?= python3
VENV ?= .venv
# Python 3.11 gets mitmproxy 11.0.x, 3.12+ the newest 12.x (CI pins each explicitly).
MITMPROXY ?= mitmproxy>=11.0,<13
PYTEST_ARGS ?=
DEMO_ARGS ?=

STAMP := $(VENV)/.installed

.PHONY: demo test check lint venv bench soak fuzz clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "$(MITMPROXY)" -e ".[test]"
	touch $(STAMP)

# The main job: three backends, the balancer and the recorder, a failover, the audit and its report,
# all on loopback (DEMO_ARGS="--affinity ip" shows another kind).
demo: $(STAMP)
	$(VENV)/bin/stickyguard demo $(DEMO_ARGS)

# Everything, as CI runs it: lint, type checks, and every test (end-to-end, README, packaging).
test: lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The contributor's quick loop (about a minute): lint, type checks, and the tests not marked slow.
check: lint
	$(VENV)/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/python -m ruff check .
	@mkdir -p build/typecheck/stickyguard
	@ln -sfn ../../../audit build/typecheck/stickyguard/audit
	@ln -sfn ../../../addons build/typecheck/stickyguard/addons
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/lint-imports --no-cache

# Not part of `make test` (about half an hour): every performance figure against its aim, in one table.
bench: $(STAMP)
	-$(VENV)/bin/python bench/run_all.py --readme  # one table, pasted into the README; exits 1 on a missed aim
	$(VENV)/bin/python bench/corpus_score.py

# Not part of `make test`: the balancer under load and faults in each affinity kind, a few minutes
# (SOAK_ARGS="--seconds 300" for a longer run); exits 1 when a target is missed.
SOAK_ARGS ?=
soak: $(STAMP)
	$(VENV)/bin/python bench/soak.py $(SOAK_ARGS)

# Not part of `make test`: thousands of generated and mutated captures through the audit (a few minutes).
FUZZ_ARGS ?= --inputs 3000
fuzz: $(STAMP)
	$(VENV)/bin/python bench/fuzz_audit.py $(FUZZ_ARGS)

clean:
	rm -rf .venv .venv-* build dist *.egg-info
