# Headwater: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench bench-quick clean

# A virtual environment with exactly the versions in requirements.lock (they install
# together offline-safe; see docs/STACK.md in the shared docs for why each is pinned).
$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## Generate the synthetic sources and run every pipeline's DAG on the embedded default.
demo: $(STAMP)
	$(BIN)/headwater demo

## The whole test suite (unit, Postgres integration, end-to-end Airflow runs).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests dags benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/el_bench.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/el_bench.py --quick

clean:
	rm -rf .headwater test-artifacts
