# RightsCare — developer commands (GNU make).
#
#   make run     install into .venv, migrate a SQLite database under ./var, load the demo once,
#                run the web server and the task worker (Ctrl-C stops both)
#   make test    lint, format check, types, migrations check and the whole pytest suite
#                (`make test LINT=0` skips ruff and mypy)
#
# Needs only Python >= 3.11 with venv, git and make.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
BIN := $(VENV)/bin
# Re-installs only when pyproject.toml is newer than this file.
STAMP := $(VENV)/.rightscare-installed

# Not `LINT ?= 1`: make has a built-in LINT (= lint) that `?=` would keep.
ifeq ($(origin LINT),default)
LINT := 1
endif
PYTEST_ARGS ?=
# pytest-xdist workers: the suite runs in about half the time on two cores (each worker gets its
# own test database: SQLite file or PostgreSQL database named by its PID). `make test PYTEST_WORKERS=0` runs serially.
# `--dist loadgroup`: tests marked `xdist_group` (the bench smoke tests, which share a bench database) run on one worker.
PYTEST_WORKERS ?= 2
LOCALE ?= zh_Hans

# The first of these that runs *and* is Python >= 3.11. A name that exists but fails
# (a pyenv shim for a version that is not configured, say) is skipped. Recursive (=), so
# it is only worked out when a recipe needs it; `make PYTHON=/path/to/python3` overrides it.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
PYTHON_VERSION_CHECK := import sys; sys.exit(sys.version_info < (3, 11))
PYTHON = $(shell for p in $(PYTHON_CANDIDATES); do if "$$p" -c '$(PYTHON_VERSION_CHECK)' >/dev/null 2>&1; then echo "$$p"; break; fi; done)

.PHONY: help venv run test lint fmt migrations-check messages clean bench

help:
	@echo "make run               install, migrate, load the demo once, run the web server and the worker"
	@echo "make test              lint + types (LINT=1, the default), migrations check, pytest"
	@echo "make test LINT=0       migrations check and pytest only"
	@echo "make test PYTEST_WORKERS=0   pytest serially (default: 2 xdist workers)"
	@echo "make lint              ruff check, ruff format --check, mypy"
	@echo "make fmt               ruff --fix and ruff format"
	@echo "make migrations-check  fail when a model change has no migration"
	@echo "make messages          update and compile the $(LOCALE) translation catalogue (needs gettext)"
	@echo "make venv              create/refresh .venv"
	@echo "make clean             remove .venv, caches and build files (keeps the data under ./var)"
	@echo "make bench             the benchmarks of bench/README.md on PostgreSQL (10k, 100k, 1M cases) and SQLite (100k);"
	@echo "                        BENCH_ONLY=\"reads sweep\" BENCH_SCALES=\"10000 100000\" BENCH_SQLITE=0 BENCH_POSTGRES=URL run part of it"

venv: $(STAMP)

$(BIN)/python:
	@python="$(PYTHON)"; \
	if [ -z "$$python" ]; then \
		echo "No usable Python >= 3.11 found (tried: $(PYTHON_CANDIDATES))." >&2; \
		echo "Install Python 3.11 or newer with venv, e.g. 'sudo apt install python3 python3-venv'." >&2; \
		exit 1; \
	fi; \
	echo "Creating $(VENV) with $$python ($$("$$python" -c 'import sys; print(sys.version.split()[0])'))"; \
	if ! "$$python" -m venv $(VENV); then \
		rm -rf $(VENV); \
		echo "'$$python -m venv' failed: install the venv module, e.g. 'sudo apt install python3-venv'." >&2; \
		exit 1; \
	fi

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The demo: SQLite under ./var (or RIGHTSCARE_DATA_DIR), tasks in the database. A secret key
# is generated once into <data dir>/secret_key (mode 600) so that sessions and API tokens
# survive a restart; a key set in the environment wins.
run: venv
	@data="$${RIGHTSCARE_DATA_DIR:-$(CURDIR)/var}"; mkdir -p "$$data"; \
	if [ -z "$${RIGHTSCARE_SECRET_KEY:-}$${RIGHTSCARE_SECRET_KEY_FILE:-}" ]; then \
		if [ ! -s "$$data/secret_key" ]; then \
			(umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$$data/secret_key"); \
		fi; \
		export RIGHTSCARE_SECRET_KEY_FILE="$$data/secret_key"; \
	fi; \
	RIGHTSCARE_DEMO=1 exec $(BIN)/rightscare up

test: venv
ifeq ($(LINT),1)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
endif
	$(BIN)/rightscare makemigrations --check --dry-run
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

fmt: venv
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

migrations-check: venv
	$(BIN)/rightscare makemigrations --check --dry-run

# Run from the package so that only our sources are scanned and the catalogue lands in
# src/rightscare/locale; the data directory stays ./var.
messages: venv
	@command -v msgfmt >/dev/null || { echo "msgfmt not found: install gettext (apt install gettext)." >&2; exit 1; }
	mkdir -p src/rightscare/locale
	cd src/rightscare && RIGHTSCARE_DATA_DIR="$(CURDIR)/var" "$(CURDIR)/$(BIN)/rightscare" makemessages -l $(LOCALE) --no-obsolete
	cd src/rightscare && RIGHTSCARE_DATA_DIR="$(CURDIR)/var" "$(CURDIR)/$(BIN)/rightscare" compilemessages -l $(LOCALE)
	@msgfmt --statistics -o /dev/null src/rightscare/locale/$(LOCALE)/LC_MESSAGES/django.po

# The benchmarks of issue 7 (bench/README.md): not part of `make test`. The bench databases are
# made the first time (1,000,000 cases take about 26 minutes) and reused; the summary goes to
# bench/results/<date>-bench.md with a growth plot, the raw numbers to bench/results/raw/.
BENCH_SCALES ?= 10000 100000 1000000
BENCH_POSTGRES ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_SQLITE ?= 100000
BENCH_ONLY ?=

bench: venv
	$(BIN)/python -m bench.run --scales "$(BENCH_SCALES)" --postgres "$(BENCH_POSTGRES)" --sqlite "$(BENCH_SQLITE)" --only "$(BENCH_ONLY)"

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis test-results var/static
	rm -f var/test_rightscare*.sqlite3*
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
