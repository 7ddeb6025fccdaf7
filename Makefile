# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OMS_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# Set to 1 (CI does) to fail when PostgreSQL is missing instead of skipping it.
OMS_REQUIRE_POSTGRES ?= 0
PYTEST_ARGS ?=

.PHONY: demo test test-sqlite test-postgres lint format bench bench-scale system venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)." % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

system:
	@./scripts/check_system.sh

demo: system $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	OMS_TASKS_BACKEND=immediate $(BIN)/python manage.py seed_demo
	@echo "Admin: http://127.0.0.1:8000/admin/  (Ctrl-C stops the server and the worker)"
	@OMS_TASKS_BACKEND=database $(BIN)/python manage.py worker --no-reload -v0 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	  OMS_TASKS_BACKEND=database $(BIN)/python manage.py runserver 127.0.0.1:8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The two runs go side by side (a core each); their logs are printed when both end.
test: system $(STAMP) lint
	@mkdir -p .test-logs
	@echo "== Test suite on SQLite and on PostgreSQL, side by side (logs in .test-logs/) =="
	@$(MAKE) --no-print-directory test-sqlite >.test-logs/sqlite.log 2>&1 & sqlite=$$!; \
	  $(MAKE) --no-print-directory test-postgres >.test-logs/postgres.log 2>&1 & postgres=$$!; \
	  wait $$sqlite; s=$$?; wait $$postgres; p=$$?; \
	  cat .test-logs/sqlite.log .test-logs/postgres.log; \
	  echo "== SQLite: $$( [ $$s = 0 ] && echo passed || echo FAILED ); PostgreSQL: $$( [ $$p = 0 ] && echo passed || echo FAILED ) =="; \
	  [ $$s = 0 ] && [ $$p = 0 ]

test-sqlite: $(STAMP)
	@echo "== Test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if $(BIN)/python scripts/pg_reachable.py "$(OMS_TEST_DATABASE_URL)"; then \
	  echo "== Test suite on PostgreSQL =="; \
	  DATABASE_URL="$(OMS_TEST_DATABASE_URL)" OMS_POSTGRES_RUN=1 $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$(OMS_REQUIRE_POSTGRES)" = "1" ]; then \
	  echo "PostgreSQL is required (OMS_REQUIRE_POSTGRES=1) but not reachable."; exit 1; \
	else \
	  echo "== PostgreSQL not reachable: its run is skipped (set OMS_TEST_DATABASE_URL) =="; \
	fi

# The quick benchmarks (PostgreSQL): the admin at 1 M orders (its data set is
# loaded once, ~3 min, and kept), import, e-mail, allocation, documents and
# the others; each prints JSON.
bench: system $(STAMP)
	@for script in tests/bench/bench_*.py; do \
	  DATABASE_URL="$${DATABASE_URL:-$(OMS_TEST_DATABASE_URL)}" $(BIN)/python $$script || exit 1; \
	done

# The admin at 10 M orders: loads its data set once (~8 min, 17 GB) and keeps it.
bench-scale: system $(STAMP)
	DATABASE_URL="$${DATABASE_URL:-$(OMS_TEST_DATABASE_URL)}" \
	  $(BIN)/python tests/bench/bench_admin.py --orders 10000000

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache oms.sqlite3
