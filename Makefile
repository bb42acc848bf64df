# carbon-panel: `make run` builds the warehouse on the sample data, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE_DIR := data/sample
MANIFEST := dbt/target/manifest.json
DBT_FILES := $(shell find dbt/models dbt/seeds dbt/macros -type f 2>/dev/null) dbt/dbt_project.yml dbt/profiles.yml

export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export TQDM_DISABLE := 1

.PHONY: install run test dev bench sample lint clean manifest

install: $(STAMP)

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI images) every process,
# dbt's included, would otherwise recompile dagster, pandas and dbt-core from source (dbt --version: 11 s -> 1.7 s).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

manifest: $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_FILES)
	$(BIN)/python -c "from dagster_project.project import parse_manifest; parse_manifest()"

sample: $(SAMPLE_DIR)/.complete

$(SAMPLE_DIR)/.complete: $(STAMP)
	$(BIN)/carbonpanel sample --out $(SAMPLE_DIR)

# Builds only what is stale (content hashes of raw files, code versions); `carbonpanel build --full` rebuilds all.
# Runs are recorded in .dagster/, the instance `make dev` opens, so the UI shows what the CLI built.
# The manifest (dbt parse, one core) and the sample (writers on every core) are independent: made side by side.
run: $(STAMP)
	$(MAKE) --no-print-directory -j2 $(MANIFEST) $(SAMPLE_DIR)/.complete
	$(BIN)/carbonpanel build

# One worker per core (pytest-xdist). The workers share one session sample and build, started in the
# background when the session begins (tests/session_warehouse.py); every build keeps its dbt target
# folder beside its warehouse, so builds running at once never share state. The tests are handed out one
# at a time in the order tests/conftest.py sorts them (by when their inputs are ready, long rebuilds first).
test: $(STAMP) $(MANIFEST)
	$(BIN)/pytest -n auto --dist loadgroup --no-loadscope-reorder

dev: $(STAMP) $(MANIFEST) $(SAMPLE_DIR)/.complete
	DAGSTER_HOME=$(CURDIR)/.dagster $(BIN)/python -c "from dagster_project.build import dagster_home; dagster_home()"
	DAGSTER_HOME=$(CURDIR)/.dagster $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP) $(MANIFEST)
	$(BIN)/python scripts/bench.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf data warehouse reports dbt/target dbt/logs .dagster test-artifacts
