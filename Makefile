# Detente: the two set-up commands are `make run` and `make test`; each creates .venv and
# installs what it needs on a fresh machine with nothing but Python 3.11+.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN_DIR ?= run

.PHONY: run test lint typecheck bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/detente demo --data $(RUN_DIR)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

# Each benchmark prints its figures as ratios against a baseline measured in the same run.
bench: $(STAMP)
	$(PY) bench/tlog_bench.py
	$(PY) bench/hub_bench.py
	$(PY) bench/hub_growth.py
	$(PY) bench/node_bench.py
	$(PY) bench/blob_bench.py

clean:
	rm -rf $(VENV) $(RUN_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
