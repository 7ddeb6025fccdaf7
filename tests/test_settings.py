"""Production settings, login protection, health check, and a production-like
run: gunicorn + whitenoise + a worker process on PostgreSQL."""

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.support.database import database_url
from tests.support.gunicorn import GunicornProcess, url_wait

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "oms.example.com,127.0.0.1",
    # The tests' own keys: processes started here read the secrets they wrote.
    "OMS_FIELD_ENCRYPTION_KEYS": ",".join(settings.OMS_FIELD_ENCRYPTION_KEYS),
}


def manage(
    *args: str, env: dict[str, str], timeout: int = 120
) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEBUG"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_production_settings_pass_the_deploy_check():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_secret_key_is_required_outside_debug():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    refused = manage("check", env=env)
    assert refused.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in refused.stderr


def test_field_encryption_keys_are_required_outside_debug():
    env = {**PRODUCTION_ENV, "OMS_FIELD_ENCRYPTION_KEYS": ""}
    refused = manage("check", env=env)
    assert refused.returncode != 0
    assert "OMS_FIELD_ENCRYPTION_KEYS must be set when DEBUG is off" in refused.stderr


def test_debug_is_off_unless_asked_for():
    # given an environment that says nothing about DEBUG
    env = {
        "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
        "OMS_FIELD_ENCRYPTION_KEYS": PRODUCTION_ENV["OMS_FIELD_ENCRYPTION_KEYS"],
        "ALLOWED_HOSTS": "localhost",
    }

    # when the settings are read
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        env=env,
    )

    # then DEBUG is off, and without a key the settings refuse to start
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == "False"
    refused = manage("check", env={"ALLOWED_HOSTS": "localhost"})
    assert "SECRET_KEY must be set when DEBUG is off" in refused.stderr


@pytest.mark.django_db
def test_health_check_answers_with_the_database_state(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_password_guessing_locks_the_login_out(client, django_user_model):
    django_user_model.objects.create_user(
        "target", password="right-password-1", is_staff=True
    )
    url = reverse("admin:login")
    for _ in range(4):
        response = client.post(url, {"username": "target", "password": "wrong"})
        assert response.status_code == 200
    fifth = client.post(url, {"username": "target", "password": "wrong"})
    assert fifth.status_code == 429
    locked = client.post(url, {"username": "target", "password": "right-password-1"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_gunicorn_whitenoise_and_worker_run_like_production(tmp_path):
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": database_url(),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
        "OMS_TASKS_BACKEND": "database",
    }
    collected = manage("collectstatic", "--no-input", env=env)
    assert collected.returncode == 0, collected.stderr
    server = GunicornProcess(env)
    port = server.port
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--name", "production"],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        https = {"X-Forwarded-Proto": "https"}
        health = url_wait(f"http://127.0.0.1:{port}/health/", {})
        assert health.status == 200 and b'"database": "ok"' in health.read()
        css = url_wait(f"http://127.0.0.1:{port}/static/admin/css/base.css", https)
        assert css.status == 200 and b"body" in css.read()
        login = url_wait(f"http://127.0.0.1:{port}/admin/login/", https)
        assert login.status == 200 and b"OMS" in login.read()
        assert "'nonce-" in login.headers["Content-Security-Policy"]
        # The API docs (the lean /api/ stack) under the policy, Swagger UI's
        # files collected from the sidecar and served by whitenoise; the error
        # pages' stylesheet by its plain name.
        docs = url_wait(f"http://127.0.0.1:{port}/api/v1/docs/", https)
        assert "'nonce-" in docs.headers["Content-Security-Policy"]
        files = re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.read().decode())
        assert any("swagger-ui-bundle" in name for name in files), files
        for name in [*files, "/static/admin/oms-error.css"]:
            assert url_wait(f"http://127.0.0.1:{port}{name}", https).status == 200

        enqueued = manage(
            "shell",
            "-c",
            "from orders.services.allocation import backorders_reallocate_task as t; "
            "print(t.defer(product_ids=[]))",
            env=env,
        )
        assert enqueued.returncode == 0, enqueued.stderr
        task_id = int(enqueued.stdout.strip().splitlines()[-1])
        from procrastinate.contrib.django.models import ProcrastinateJob

        deadline = time.monotonic() + 30
        while ProcrastinateJob.objects.get(id=task_id).status != "succeeded":
            assert time.monotonic() < deadline, "the worker did not run the task"
            time.sleep(0.3)
    finally:
        server.stop()
        worker.terminate()
        worker.wait(timeout=10)
