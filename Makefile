# Sightline: `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := api graph service workers storage core

.PHONY: run test tools servers browser deps lint typecheck pytest schema bench clean

run: deps servers
	$(BIN)/python -m scripts.run_local

test: deps tools lint typecheck pytest

deps: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is required (found: $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make run` needs only the servers; the browser is for the end-to-end tests.
tools: servers browser

servers:
	scripts/install-redis.sh
	scripts/install-postgresql.sh
	scripts/build-ferretdb.sh

browser:
	scripts/install-chromium.sh

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

pytest: deps tools
	$(BIN)/pytest

bench: deps servers
	$(BIN)/python -m bench $(if $(SIZE),--size $(SIZE),)

schema: deps
	$(BIN)/python -m graph.export > graph/schema.graphql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
