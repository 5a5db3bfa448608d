# The two commands a new user needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format migrate bench soak clean chromium echarts promtool

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The reports' hourly pre-aggregates are filled from the raw tables where they differ: a store from
# before one of them, or an hour a crash left short (stop the consumers first; `make run` starts its
# own only after this).
migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py migrate_clickhouse
	$(BIN)/python manage.py rebuild_report_aggregates --check

## make run: install, migrate, create the first admin, load a small demo, serve on http://127.0.0.1:8000
run: migrate
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

## make test: install and run the whole test suite
test: $(VENV)/.installed chromium promtool
	$(BIN)/pytest $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (Playwright cannot download its own here); without
# apt-get or its permission the test is skipped with the reason.
chromium:
	command -v chromium >/dev/null || ! command -v apt-get >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "could not install chromium: tests/test_sdk_browser.py will be skipped" >&2

# promtool (Debian's prometheus package) checks and unit-tests the alert rules; without it those
# tests are skipped with the reason (they fail under REQUIRE_SERVICES=1).
promtool:
	command -v promtool >/dev/null || ! command -v apt-get >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
		|| echo "could not install prometheus: tests/test_observability.py's promtool tests will be skipped" >&2

## make bench: ingestion ratios against bare endpoints, instructions per hot path within budget, the attribution engine at 1M x 10M, every report query at 10M events, the page budgets at 10M events; writes BENCHMARKS.md (the reports at 100M: python -m benchmarks.reports --events 100000000)
bench: $(VENV)/.installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.instructions
	$(BIN)/python -m benchmarks.attribution
	$(BIN)/python -m benchmarks.reports --events 10000000
	$(BIN)/python -m benchmarks.pages --events 10000000

## make soak: the long fault tests (a consumer killed again and again; the broker stopped mid-stream, with Kafka) and the long fuzz
soak: $(VENV)/.installed
	SOAK_EVENTS=200000 $(BIN)/pytest -x tests/test_ingestion_faults.py -k killing
	SOAK_EVENTS=100000 $(BIN)/pytest -x tests/test_broker_outage.py
	FUZZ_EXAMPLES=500 $(BIN)/pytest -x tests/test_fuzz.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache

## make echarts: rebuild static/vendor/echarts/echarts.min.js (the custom ECharts build, committed) with Node and npm
echarts:
	npm ci --no-audit --no-fund
	npm run build
