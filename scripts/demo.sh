#!/usr/bin/env bash
# The demo: migrate, load the demo data, then the admin on 127.0.0.1:8000 and a
# background worker beside it. Run by `make demo` with DATABASE_URL set
# (oms/devdb.py starts the project's own PostgreSQL when none is configured).
set -euo pipefail
BIN=${BIN:-.venv/bin}
# The demo is a trial on this machine: DEBUG on unless the shell says otherwise.
export DEBUG=${DEBUG:-true}
"$BIN/python" manage.py migrate --no-input
OMS_TASKS_BACKEND=immediate "$BIN/python" manage.py seed_demo
echo "Admin: http://127.0.0.1:8000/admin/  (Ctrl-C stops the server, the worker and the database)"
OMS_TASKS_BACKEND=database "$BIN/python" manage.py worker --no-reload -v0 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
OMS_TASKS_BACKEND=database "$BIN/python" manage.py runserver --noreload 127.0.0.1:8000
