#!/usr/bin/env bash
# The demo: migrate, load the demo data, then the admin on 127.0.0.1:8000 (or
# OMS_DEMO_ADDRESS) and a background worker (Procrastinate) beside it. Run by
# `make demo` with DATABASE_URL set (oms/devdb.py starts the project's own
# PostgreSQL when none is configured).
set -euo pipefail
BIN=${BIN:-.venv/bin}
# The demo is a trial on this machine: DEBUG on unless the shell says otherwise.
export DEBUG=${DEBUG:-true}
# Where the demo answers (host:port, OMS_DEMO_ADDRESS), and so where the links
# in its e-mails and the API example point (OMS_PUBLIC_URL, unless set).
ADDRESS=${OMS_DEMO_ADDRESS:-127.0.0.1:8000}
export OMS_PUBLIC_URL=${OMS_PUBLIC_URL:-http://$ADDRESS}
"$BIN/python" manage.py migrate --no-input
OMS_TASKS_BACKEND=immediate "$BIN/python" manage.py seed_demo
echo "Admin: ${OMS_PUBLIC_URL%/}/admin/  (Ctrl-C stops the server, the worker and the database)"
echo "E-mails: files in sent_emails/ (unless EMAIL_HOST names an SMTP server)"
# Procrastinate's worker (core/worker.py): more of them, here or on other
# machines, share the queue (docs/operations.md).
OMS_TASKS_BACKEND=database "$BIN/python" manage.py worker --name demo &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
OMS_TASKS_BACKEND=database "$BIN/python" manage.py runserver --noreload "$ADDRESS"
