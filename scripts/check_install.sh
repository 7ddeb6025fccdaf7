#!/usr/bin/env bash
# What `pip install .` gives a deployment: the package alone (no extras, no
# checkout beside it) must start with production settings. Installs into a
# fresh venv, then, from an empty folder: Django's deployment checks (warnings
# fail), the templates and static files found, every model importable.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
# A copy, so the build leaves nothing in the checkout (build/, *.egg-info).
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work" --one-top-level=src
# As a deployment installs: the locked versions, checked by their hashes, then
# the package alone (so a dependency missing from the lock fails here).
"$work/venv/bin/python" -m pip install --quiet --require-hashes -r requirements/runtime.lock
"$work/venv/bin/python" -m pip install --quiet --no-deps "$work/src"
mkdir "$work/run"
cd "$work/run"
export DJANGO_SETTINGS_MODULE=oms.settings DEBUG=0 ALLOWED_HOSTS=oms.example.com
export SECRET_KEY="check-install-$(date +%s%N)-not-a-real-secret-but-long-enough-for-django"
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
"$work/venv/bin/python" -m django check --deploy --fail-level WARNING
"$work/venv/bin/python" - <<'PY'
import django

django.setup()
from django.contrib.staticfiles import finders
from django.template.loader import get_template

get_template("admin/orders/order/change_form.html")
get_template("documents/base.html")
for path in ("admin/oms.css", "customer/page.css", "documents/documents.css"):
    assert finders.find(path), f"{path} is not installed with the package"
print("The installed package starts: templates and static files found.")
PY
