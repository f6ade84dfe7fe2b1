# Headwater: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench bench-quick bench-venv clean

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

## The whole test suite (unit, Postgres integration, end-to-end Airflow runs), on
## TEST_WORKERS pytest-xdist workers (tests/conftest.py decides what each takes).
## The slowest tests are listed at the end, and every test's time is kept in
## test-artifacts/junit.xml, so a growing suite shows where its time goes.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder \
	  --durations=25 --junitxml=test-artifacts/junit.xml

lint: $(STAMP)
	$(BIN)/ruff check src tests dags benchmarks examples
	$(BIN)/mypy

# The alternatives the benchmark compares with (dlt, connectorx, pandas) live in their own venv,
# from their own lock: their pins never meet Airflow's.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
$(BENCH_STAMP): benchmarks/requirements-alternatives.lock
	test -d $(BENCH_VENV) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -r benchmarks/requirements-alternatives.lock
	touch $(BENCH_STAMP)

bench-venv: $(BENCH_STAMP)

## Every benchmark family at full size (5M rows; DAG at scale 1, 10, 100); see benchmarks/README.md.
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## The same harness at tiny sizes (CI smoke, no time is checked).
bench-quick: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py --quick $(BENCH_ARGS)

clean:
	rm -rf .headwater test-artifacts
