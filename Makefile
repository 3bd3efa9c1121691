# onefunnel — common tasks. `make demo` and `make test` are the README's Quick start.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install demo serve test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: install  ## install, load the demo company into ./onefunnel.sqlite3, serve it
	$(BIN)/onefunnel demo
	$(BIN)/onefunnel serve

serve: install
	$(BIN)/onefunnel serve

test: install  ## the whole suite on SQLite, then on a PostgreSQL server started for the run
	bash scripts/system-deps.sh
	PYTHON=$(PY) bash scripts/test.sh

lint: install
	$(BIN)/ruff check onefunnel tests bench
	$(BIN)/ruff format --check onefunnel tests bench
	$(BIN)/mypy onefunnel
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format onefunnel tests bench
	$(BIN)/ruff check --fix onefunnel tests bench

bench: install  ## benchmarks (never run as tests); prints tables
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
