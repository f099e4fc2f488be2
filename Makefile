# drainwatch: `make run` serves on SQLite; `make test` runs lint, types and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-ingest bench-processor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
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

bench-processor: $(STAMP)
	$(BIN)/python bench/processor.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
