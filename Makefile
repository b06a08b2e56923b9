# Two entry points for a fresh machine: `make demo` and `make test`. Everything else is their parts.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit postgres-packages azurite bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pip install --quiet -r demo/requirements.txt
	PATH=$(CURDIR)/$(BIN):$$PATH bash demo/run.sh

# PostgreSQL from Debian's packages, for the metadata store's conformance suite.
postgres-packages:
	bash scripts/install-postgres.sh

# Azurite (Azure Storage emulator) from npm into .tools/, for the datastore tests; moto's S3 server
# comes with the dev extra.
azurite:
	bash scripts/install-azurite.sh

lint: $(STAMP)
	$(BIN)/ruff check thresher tests bench examples
	$(BIN)/ruff format --check thresher tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) postgres-packages azurite
	$(BIN)/python -m pytest -q --durations=15

# The checks run beside the tests (mypy alone takes half a minute on a clean clone).
test: $(STAMP)
	$(MAKE) --no-print-directory -j3 lint typecheck unit

# thresher against the baselines a user would pick instead (Ray, multiprocessing, mlflow models
# predict; bare processes for pipeline steps), side by side: writes docs/benchmarks.md and
# bench/results.json. About 15 minutes here before P8 (1,000-step pipelines), which adds its own.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .thresher .pytest_cache .mypy_cache .ruff_cache .tools
