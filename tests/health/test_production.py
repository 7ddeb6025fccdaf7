"""The endpoints as production runs them: gunicorn with two worker processes
and production settings (DEBUG off: JSON logs, HTTPS redirect), metrics in
prometheus_client's multiprocess mode; not ready until a real worker beats."""

import json
import secrets
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.processes import queue_forget, workers
from tests.faults.processes import wait_for as wait_for_worker
from tests.support.database import database_url
from tests.support.gunicorn import GunicornProcess, url_wait

TOKEN = secrets.token_urlsafe(20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


READY_503 = (("method", "GET"), ("status", "503"), ("view", "health-ready"))


# What the TLS proxy in front adds: /metrics is served over HTTPS only.
HTTPS = {"X-Forwarded-Proto": "https"}


def _scrape(base: str) -> dict:
    status, _, body = _get(
        f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}", **HTTPS}
    )
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_report_together_and_log_json(tmp_path):
    queue_forget()  # no worker rows left by earlier tests
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "OMS_TASKS_BACKEND": "database",
        "OMS_HEALTH_WORKERS_MIN": "1",
        "OMS_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
        # The secrets at rest are read with the keys the test database has.
        "OMS_FIELD_ENCRYPTION_KEYS": ",".join(settings.OMS_FIELD_ENCRYPTION_KEYS),
    }
    with GunicornProcess(env, drop=("DJANGO_", "LOG_FORMAT", "SENTRY_")) as server:
        base = server.base
        # Plain HTTP is fine for the probes (no redirect to HTTPS).
        assert url_wait(f"{base}/health/live", {}).status == 200
        status, headers, body = _get(f"{base}/health/live")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        # No worker beats: not ready (and said in the log).
        for _ in range(19):
            assert _get(f"{base}/health/ready")[0] == 503
        status, headers, body = _get(
            f"{base}/health/ready", {"X-Request-ID": "probe-77"}
        )
        assert status == 503
        assert headers["X-Request-ID"] == "probe-77"
        assert json.loads(body)["checks"]["workers_alive"]["status"] == "fail"

        assert _get(f"{base}/metrics", HTTPS)[0] == 401
        # Plain HTTP: sent to HTTPS first, the token never travels in clear.
        assert _get(f"{base}/metrics")[0] == 301
        samples = _scrape(base)
        # Every request, whichever worker process answered it.
        assert samples[("oms_http_request_duration_seconds_count", READY_503)] == 20
        assert samples[("oms_ready", ())] == 0
        assert samples[("oms_workers_alive", ())] == 0
        assert list(metrics_dir.glob("histogram_*.db"))

        # A real worker (Procrastinate's heartbeat): ready.
        with workers(("ready", {})):
            wait_for_worker(
                lambda: _get(f"{base}/health/ready")[0] == 200,
                timeout=30,
                what="readiness with a worker beating",
            )
            # One process: its main worker and its recovery one (core.worker).
            assert _scrape(base)[("oms_workers_alive", ())] == 2
    records = []
    for line in server.log.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    (not_ready,) = [r for r in records if r["request_id"] == "probe-77"]
    assert not_ready["request_id"] == "probe-77"
    assert not_ready["level"] == "WARNING"
    assert not_ready["message"].startswith("Not ready")
    assert "workers_alive" in not_ready["message"]
