# The README's two commands are `make run` and `make test`; everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck contracts services unit integration acceptance format bench lock clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the lock file or the project metadata changes.
$(STAMP): $(BIN)/python requirements/lock.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/cv-evaluator migrate
	$(BIN)/cv-evaluator serve --no-migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck contracts

test: check services
	$(BIN)/pytest

# The engines the suites start for real: a throwaway PostgreSQL per test session, and the
# Apache Kafka jars (from Maven Central, cached in .cache/kafka) for a throwaway broker.
services:
	scripts/ensure-test-services
	scripts/fetch-kafka

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) services
	$(BIN)/pytest tests/integration

acceptance: $(STAMP) services
	$(BIN)/pytest tests/acceptance

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.service

# Regenerate the lock after changing dependencies in pyproject.toml (needs `uv` on PATH).
lock:
	uv pip compile --python-version 3.11 --generate-hashes --extra dev pyproject.toml -o requirements/lock.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
