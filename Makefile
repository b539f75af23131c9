# Developer commands. Everything runs through .venv/bin, so nothing needs activating.
#   make run     migrate, load the demo data, serve on http://127.0.0.1:5000
#   make test    the suite on SQLite, then on PostgreSQL (PYTEST_ARGS="-x -k login" to narrow)
#   make lint    ruff check, ruff format --check and lint-imports (the layers)
# `make help` lists every target.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app wsgi

HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

# PostgreSQL for the second test run: server URL (no database) and database name.
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432
TEST_PG_DB ?= lms_test
export TEST_PG_URL TEST_PG_DB

# gunicorn: settings in gunicorn.conf.py, 2 x CPUs + 1 sync workers capped at 12 (each
# worker holds its own database connection; see docs/deployment.md). Override with
# `make serve WORKERS=4 SERVE_BIND=0.0.0.0:8000`.
SERVE_BIND ?= 127.0.0.1:8000
WORKERS ?=

.PHONY: help venv run test test-fast lint format serve bench clean distclean

help:
	@echo "make run       migrate, seed the demo data and serve on http://$(HOST):$(PORT)"
	@echo "make test      pytest on SQLite, then on PostgreSQL ($(TEST_PG_DB)); PYTEST_ARGS=..."
	@echo "make test-fast pytest -m 'not slow' on SQLite only (no sweeps, fuzzers, races)"
	@echo "make lint      ruff check + ruff format --check + lint-imports (layers)"
	@echo "make format    ruff check --fix + ruff format"
	@echo "make serve     gunicorn -c gunicorn.conf.py on $(SERVE_BIND) (production; WORKERS=n)"
	@echo "make bench     benchmarks on PostgreSQL + Redis -> docs/benchmarks.md (SCALE=0.01: quick)"
	@echo "make venv      create $(VENV) and install requirements-dev.txt"
	@echo "make clean     remove caches; make distclean also removes $(VENV)"

# The stamp is newer than the requirements files once they are installed: editing either
# reinstalls, nothing else does.
venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: venv
	@$(BIN)/python -m lms.certificates.fonts
	$(FLASK) db upgrade
	$(FLASK) lms seed-demo
	$(FLASK) run --host $(HOST) --port $(PORT)

# Exit status 3 from ensure_test_db.py means "PostgreSQL not reachable": fine on a laptop,
# a failure when CI is set (CI=true is what the CI runner sets).
test: venv
	@echo "== pytest on SQLite =="
	env -u TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)
	@status=0; url=$$($(BIN)/python scripts/ensure_test_db.py) || status=$$?; \
	case "$${CI:-}" in ""|0|false|no) required=no ;; *) required=yes ;; esac; \
	server=$$(sed -E 's#//([^:/@]+):[^@]*@#//\1:***@#' <<< "$$TEST_PG_URL"); \
	if [ $$status -eq 0 ]; then \
		echo "== pytest on PostgreSQL (database $(TEST_PG_DB)) =="; \
		TEST_DATABASE_URL="$$url" $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ $$status -eq 3 ] && [ $$required = no ]; then \
		echo "PostgreSQL not reachable at $$server: ran the suite on SQLite only"; \
	elif [ $$status -eq 3 ]; then \
		echo "PostgreSQL not reachable at $$server, and CI=$$CI requires it: failing"; \
		exit 1; \
	else \
		echo "scripts/ensure_test_db.py failed (exit $$status)"; exit $$status; \
	fi

# The inner loop: SQLite only, without the tests marked slow (the bad-input sweep, the
# OpenAPI fuzzer, the races, subprocesses, the demo seeding). `make test` runs them all.
test-fast: venv
	env -u TEST_DATABASE_URL $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

# Every check runs even when one fails, so one run shows everything to fix. lint-imports
# holds the code to the layers of docs/architecture.md (contracts in pyproject.toml).
lint: venv
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The app reads DATABASE_URL, RATELIMIT_STORAGE_URI, SECRET_KEY... from the environment.
serve: venv
	@[ -n "$${RATELIMIT_STORAGE_URI:-}" ] || echo "warning: RATELIMIT_STORAGE_URI is unset:" \
		"each worker counts rate limits on its own (use redis://...)"
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(SERVE_BIND) \
		$(if $(WORKERS),--workers $(WORKERS)) wsgi:app

# Not part of `make test`. Regenerates lms_bench (SCALE) and lms_bench_small (SCALE/100) on
# the local PostgreSQL, needs Redis, and rewrites the generated part of docs/benchmarks.md.
# 4-7 minutes at full scale on 2 CPUs. BENCH_ARGS="--rows 2,7 --reuse" to narrow.
SCALE ?= 1.0
BENCH_ARGS ?=
bench: venv
	$(BIN)/python -m bench run --scale $(SCALE) $(BENCH_ARGS)

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
