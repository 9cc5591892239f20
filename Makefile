# The menu: every CI step is a target here, so a contributor runs exactly what CI runs.
SHELL := /bin/bash
PY_BOOT ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
ENTITY ?= charges
DAYS ?= 3
PYTEST_ARGS ?=
# Two workers, one test file each at a time: most suites wait on servers and subprocesses.
# --durations lists the slowest tests (and tests/conftest.py the slowest files), so a slow
# suite shows up in every CI log.
TEST_WORKERS ?= 2

export LAKE_ROOT ?= ./_local_data
# dbt's log file goes under target/ with everything else generated (the CLI does the same).
export DBT_LOG_PATH ?= target/logs

# dbt's external_root: DuckDB creates a partitioned write's folder but not its parents, so
# `make extract && dbt build` needs them; the lake layout module knows which (the CLI's
# run-transforms makes them itself).
define make_external_root
	@$(PY) -c "from extractor.lake.storage import storage_for; from extractor.settings import Settings; \
		from extractor.transform.dbt import prepare_lake; prepare_lake(storage_for(Settings.from_env()))"
endef

.PHONY: help setup setup-spark java build-spark test test-fast lint format mock-api extract \
	run-batch run-all run-pipeline run-transforms run-quality run-webhooks docs demo bench \
	bench-dlt-venv clean chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# Idempotent: reinstalls only when pyproject.toml or the lock file changed.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip>=24'
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@# httpfs for the dbt s3 target, copied from its pip package (never downloaded).
	$(PY) -c "from extractor.transform.warehouse import extension_repo; extension_repo()"
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install pinned dependencies

# The Spark target (ADR 0030): dbt-spark + pyspark, pinned in the lock like everything else.
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install -q -c requirements.lock -e '.[dev,spark]'
	@touch $(SPARK_STAMP)

# pyspark starts a JVM: Debian's Java 17 runtime, installed once if `java` is missing.
java: ## install Debian's Java 17 runtime for Spark if it is missing
	command -v java >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless)

setup-spark: $(SPARK_STAMP) java ## add the Spark target's dependencies (dbt-spark, pyspark, Java)

# Seed, models and dbt's data tests (the gate, as on DuckDB; docs/spark.md) in one build:
# the local catalog is in memory. Unit tests stay DuckDB-only (ADR 0030).
build-spark: setup-spark ## build and test Silver and Gold with Apache Spark (local, in-process) into LAKE_ROOT
	$(make_external_root)
	$(BIN)/dbt build --target spark --exclude-resource-type unit_test \
		--project-dir . --profiles-dir . --target-path target/spark/dbt

# The report tests render the HTML in headless Chromium (Debian's package; installs once).
chromium: ## install headless Chromium for the report tests if it is missing
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: setup setup-spark chromium ## run every test suite (unit, integration, end-to-end); installs Java and Chromium if missing
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20 $(PYTEST_ARGS)

test-fast: setup ## unit and quick integration tests only (about a minute, two workers)
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

lint: setup ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## apply ruff formatting and fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

mock-api: setup ## serve the mock Stripe API on 127.0.0.1:8000 (foreground)
	$(PY) -m mock_api serve --host 127.0.0.1 --port 8000

extract: setup ## extract every entity into Bronze (DAYS=3); then `dbt build` works as is
	$(BIN)/payments-pipeline run-all --days $(DAYS)
	$(make_external_root)

run-batch: setup ## extract one entity: make run-batch ENTITY=charges DAYS=3
	$(BIN)/payments-pipeline run-batch --entity $(ENTITY) --days $(DAYS)

run-all: setup ## extract every entity: make run-all DAYS=3
	$(BIN)/payments-pipeline run-all --days $(DAYS)
	$(make_external_root)

run-transforms: setup ## build Silver and Gold with dbt
	$(BIN)/payments-pipeline run-transforms

run-quality: setup ## run the quality gate (dbt tests + source freshness)
	$(BIN)/payments-pipeline run-quality

run-pipeline: setup ## extract, transform and gate under one run id: make run-pipeline DAYS=3
	$(BIN)/payments-pipeline run-pipeline --days $(DAYS)

run-webhooks: setup ## serve the webhook receiver on 127.0.0.1:8001 (foreground)
	$(BIN)/payments-pipeline run-webhooks

docs: setup ## build the dbt docs site offline into target/docs (one self-contained HTML file)
	$(make_external_root)
	$(BIN)/dbt docs generate --static --project-dir . --profiles-dir . --target-path target/docs
	@echo "dbt docs: open target/docs/static_index.html (no server or network needed)"

demo: setup ## the whole pipeline on the mock API, end to end, then a summary
	$(PY) -m extractor.demo

# dlt is a bench-only dependency: its own virtualenv, so it never touches the project's pins.
DLT_VENV := bench/.venv-dlt
DLT_VERSION ?= 1.31.0
BENCH_ARGS ?=

$(DLT_VENV)/.installed:
	@test -x $(DLT_VENV)/bin/python || $(PY_BOOT) -m venv $(DLT_VENV)
	$(DLT_VENV)/bin/python -m pip install -q 'dlt[filesystem]==$(DLT_VERSION)'
	@touch $@

bench-dlt-venv: $(DLT_VENV)/.installed ## the dlt peer's own virtualenv (bench/.venv-dlt)

bench: setup bench-dlt-venv ## run the default benchmarks and rewrite docs/benchmarks.md (larger sizes and Spark run separately; BENCH_ARGS=...)
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean: ## remove ./_local_data (not a custom LAKE_ROOT), target/ and logs/ (keeps .venv)
	rm -rf _local_data target logs
