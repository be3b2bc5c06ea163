# Two commands set Yuqing up on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint check clean

# The virtualenv is made once; packages are (re)installed when pyproject.toml changes.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Yuqing needs Python 3.11 or newer (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

run: $(VENV)/.installed
	$(BIN)/yuqing run

# Lint, types, then the whole suite on SQLite and again on PostgreSQL (see scripts/test.sh).
test:
	PYTHON=$(PYTHON) scripts/test.sh

lint:
	PYTHON=$(PYTHON) scripts/test.sh --lint-only

# Security checks alone (`make test` runs them too): bandit, and pip-audit when its
# vulnerability database can be reached (see scripts/test.sh).
check:
	PYTHON=$(PYTHON) scripts/test.sh --security-only

bench: $(VENV)/.installed
	mkdir -p var/bench
	$(BIN)/yuqing bench --out var/bench/report.json

# Build and test leftovers only: var/ holds the database and keys, and is never removed here.
clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
