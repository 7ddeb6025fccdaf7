"""Sentry: errors in requests and in jobs reach the DSN's server, tagged with
the request id; nothing is sent without SENTRY_DSN.

A real process starts with the settings (SENTRY_DSN set as a deployment
sets it) and reports to a local HTTP server standing in for Sentry."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import django, sentry_sdk
django.setup()
from django.test import Client, override_settings
from core.request_id import request_id_bound
from tests.support.observed import observed_fail

with override_settings(ROOT_URLCONF="tests.support.observed"):
    client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    response = client.get("/observed/boom", headers={"X-Request-ID": "req-view-1"})
    assert response.status_code == 500, response.status_code
with request_id_bound("req-job-2"):
    observed_fail.defer()
sentry_sdk.flush(timeout=10)
print("done", bool(sentry_sdk.get_client().is_active()))
"""


class Receiver(BaseHTTPRequestHandler):
    events: list[dict]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        # An envelope: a header line, then (item header, item payload) pairs.
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                self.server.events.append(json.loads(payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.events = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "oms.test_settings",
            "OMS_TASKS_BACKEND": "immediate",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def _exception(event: dict) -> tuple[str, str]:
    value = event["exception"]["values"][-1]
    return value["type"], value["value"]


def test_errors_in_a_request_and_a_job_reach_sentry_with_the_request_id(
    sentry_server,
):
    port = sentry_server.server_address[1]
    done = _run(
        {
            "SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/42",
            "SENTRY_ENVIRONMENT": "staging",
            "SENTRY_RELEASE": "oms@test",
        }
    )
    assert done.returncode == 0, done.stderr
    assert "done True" in done.stdout
    by_request_id = {
        event["tags"]["request_id"]: event for event in sentry_server.events
    }
    view = by_request_id["req-view-1"]
    assert _exception(view) == ("RuntimeError", "the view broke")
    assert view["environment"] == "staging"
    assert view["release"] == "oms@test"
    # No personal data: no cookies, no client address, no user.
    assert "user" not in view or not view["user"].get("ip_address")
    job = by_request_id["req-job-2"]
    assert _exception(job) == ("RuntimeError", "the job broke")


def test_nothing_is_reported_without_a_dsn(sentry_server):
    done = _run({})
    assert done.returncode == 0, done.stderr
    assert "done False" in done.stdout
    assert sentry_server.events == []
