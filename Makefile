# jixiao — two commands: `make serve` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install install-dev db db-stop migrate serve worker test fuzz openapi openapi-check schemas lint bench bench-engine bench-api clean

help:
	@echo "make serve     set up and serve the API on $(HOST):$(PORT) (embedded PostgreSQL unless DATABASE_URL is set)"
	@echo "make worker    a queue worker (jobs; make serve runs one in-process unless JIXIAO_JOBS_WORKER_IN_PROCESS=0)"
	@echo "make test      set up and run the test suite against a real PostgreSQL"
	@echo "make fuzz      schemathesis against a served instance (admin key, read key, no key)"
	@echo "make openapi   regenerate openapi/openapi.json from the app (and the ruleset schema)"
	@echo "make schemas   regenerate rulesets/ruleset.schema.json from the file-format models"
	@echo "make lint      ruff and mypy"
	@echo "make bench     engine and API benchmarks"
	@echo "make db-stop   stop the embedded PostgreSQL"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The engine's hot modules are compiled at install (setup.py): a change to one rebuilds them.
ENGINE_COMPILED := $(wildcard app/engine/formula.py app/engine/rules.py app/engine/scoring.py \
                              app/engine/ruleset.py app/engine/facts.py)

$(VENV)/.installed: pyproject.toml setup.py mypyc.ini $(ENGINE_COMPILED) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

db: install
	@$(BIN)/python -m app.db.embedded up >/dev/null

db-stop: install
	@$(BIN)/python -m app.db.embedded stop

migrate: db
	@$(BIN)/alembic upgrade head

serve: migrate
	@$(BIN)/python -m app.keys_hint || true
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

# a queue worker of its own (any number of them, on any machine sharing the database)
worker: migrate
	$(BIN)/jixiao worker

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# schemathesis against a served instance on 127.0.0.1 (tests/fuzz/served.py); not part of `make test`
FUZZ_ARGS ?=
fuzz: install-dev db
	$(BIN)/python -m tests.fuzz.served $(FUZZ_ARGS)

# The ruleset file's JSON Schema is generated from its models (app/engine/fileformat.py); the
# OpenAPI document carries the same models, so both are regenerated together.
schemas: install
	$(BIN)/python -m app.schema_doc > rulesets/ruleset.schema.json

openapi: install schemas
	$(BIN)/python -m app.openapi_doc > openapi/openapi.json

openapi-check: install
	$(BIN)/python -m app.openapi_doc | diff -u openapi/openapi.json -

lint: install-dev
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/mypy app

bench: bench-engine bench-api

bench-engine: install-dev
	$(BIN)/python bench/engine.py

bench-api: install-dev
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
