# drainwatch: `make run` serves on SQLite; `make test` runs lint, types and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` installs only what serving needs; `make test` adds the dev tools to the same venv.
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test lint typecheck pytest bench bench-ingest bench-load clean bench-processor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/drainwatch serve

lint: $(STAMP)
	$(BIN)/ruff format --check service tests
	$(BIN)/ruff check service tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/engine.py

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

# wrk against a no-op ceiling and `drainwatch serve` (needs wrk: apt-get install -y wrk);
# e.g. make bench-load LOAD_ARGS="--seconds 20 --database postgresql+psycopg://..."
LOAD_ARGS ?= --repeat 2
bench-load: $(STAMP)
	$(BIN)/python bench/load.py $(LOAD_ARGS)

bench-processor: $(STAMP)
	$(BIN)/python bench/processor.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

.PHONY: bench-intake
bench-intake: $(STAMP)
	$(BIN)/python bench/intake.py

.PHONY: bench-parse
bench-parse: $(STAMP)
	$(BIN)/python bench/parse.py
