"""/health/live and /health/ready: what a load balancer reads."""

import socket
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from connections.models import InboundMessage, OutboundMessage
from oms.health import checks
from oms.health.queue import _OLDEST_DUE
from tests.support.observed import observed_log

CHECKS = {
    "database",
    "queue_depth",
    "queue_oldest_wait_seconds",
    "workers_alive",
    "workers_dead",
    "inbox_waiting",
    "inbox_oldest_wait_seconds",
    "inbox_failed",
    "outbox_pending",
    "outbox_overdue_seconds",
    "outbox_failed",
    "outbox_destinations_paused",
}


def _inbound(channel, **fields) -> InboundMessage:
    return InboundMessage.objects.create(
        channel=channel,
        source=InboundMessage.Source.API,
        topic="orders/create",
        **fields,
    )


def _outbound(channel, **fields) -> OutboundMessage:
    return OutboundMessage.objects.create(
        channel=channel, platform="generic", kind="order.created", **fields
    )


def test_live_answers_without_the_database(client):
    # No django_db mark: a query would raise.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_lists_every_check_with_its_status_and_figure(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert body["checks"]["queue_depth"] == {
        "status": "ok",
        "value": 0,
        "threshold": 10000,
        "detail": "",
    }


@pytest.mark.django_db
def test_ready_is_a_few_queries(client, django_assert_max_num_queries):
    # The savepoint, its statement timeout and its release; six reads.
    with django_assert_max_num_queries(9):
        assert client.get("/health/ready").status_code == 200


@pytest.mark.django_db
def test_ready_needs_no_login_and_is_never_cached(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    # Not a page: the fixed strict policy, no nonce.
    assert (
        response["Content-Security-Policy"]
        == "default-src 'none'; frame-ancestors 'none'"
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_ready_is_503_when_the_database_does_not_answer(client, monkeypatch):
    unreachable = connections["default"].__class__(
        {
            **connections["default"].settings_dict,
            "HOST": "127.0.0.1",
            "PORT": _closed_port(),
        },
        "default",
    )
    monkeypatch.setattr(checks, "connection", unreachable)
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"] == {
        "database": {
            "status": "fail",
            "value": None,
            "threshold": None,
            "detail": "OperationalError",
        }
    }


@pytest.mark.django_db
def test_failed_messages_warn_without_failing_readiness(client, channel):
    _inbound(channel, status=InboundMessage.Status.FAILED)
    # Refused at once (4xx): its sender was told; not a failure to look at.
    _inbound(channel, status=InboundMessage.Status.FAILED, response_status=422)
    _outbound(channel, dedupe_key="SO-1", status=OutboundMessage.Status.FAILED)
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warning"
    assert body["checks"]["inbox_failed"]["status"] == "warning"
    assert body["checks"]["inbox_failed"]["value"] == 1
    assert body["checks"]["outbox_failed"]["status"] == "warning"
    assert body["checks"]["outbox_failed"]["value"] == 1


@pytest.mark.django_db
def test_a_paused_destination_warns_until_it_answers(client, channel):
    from connections.outbox.destinations import (
        destination_answered,
        destination_pause,
    )

    destination_pause("email", error="ConnectionRefusedError: [Errno 111]")
    body = client.get("/health/ready").json()
    paused = body["checks"]["outbox_destinations_paused"]
    assert (paused["status"], paused["value"], body["status"]) == (
        "warning",
        1,
        "warning",
    )
    destination_answered("email")
    paused = client.get("/health/ready").json()["checks"]["outbox_destinations_paused"]
    assert (paused["status"], paused["value"]) == ("ok", 0)


@pytest.mark.django_db
def test_an_inbound_message_waiting_too_long_fails_readiness(client, channel):
    _inbound(channel, received_at=timezone.now() - timedelta(seconds=120))
    _inbound(channel)
    with override_settings(OMS_HEALTH_INBOX_WAIT_MAX_SECONDS=60):
        response = client.get("/health/ready")
    assert response.status_code == 503
    checks_read = response.json()["checks"]
    assert checks_read["inbox_waiting"]["value"] == 2
    assert checks_read["inbox_oldest_wait_seconds"]["status"] == "fail"
    assert checks_read["inbox_oldest_wait_seconds"]["value"] >= 120


@pytest.mark.django_db
def test_an_overdue_outbound_message_is_a_warning(client, channel):
    _outbound(
        channel,
        dedupe_key="SO-2",
        next_attempt_at=timezone.now() - timedelta(seconds=600),
    )
    with override_settings(OMS_HEALTH_OUTBOX_OVERDUE_MAX_SECONDS=300):
        response = client.get("/health/ready")
    assert response.status_code == 200
    checks_read = response.json()["checks"]
    assert checks_read["outbox_pending"]["value"] == 1
    assert checks_read["outbox_overdue_seconds"]["status"] == "warning"


@pytest.mark.django_db
@override_settings(
    OMS_TASKS_BACKEND="database", OMS_HEALTH_QUEUE_DEPTH_MAX=1, OMS_HEALTH_WORKERS_MIN=0
)
def test_a_queue_deeper_than_its_limit_fails_readiness(client):
    observed_log.defer(text="one")
    assert client.get("/health/ready").status_code == 200
    observed_log.defer(text="two")
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["queue_depth"] == {
        "status": "fail",
        "value": 2,
        "threshold": 1,
        "detail": "",
    }


@pytest.mark.django_db
@override_settings(
    OMS_TASKS_BACKEND="database",
    OMS_HEALTH_QUEUE_WAIT_MAX_SECONDS=60,
    OMS_HEALTH_WORKERS_MIN=0,
)
def test_a_scheduled_job_waiting_too_long_fails_readiness(client):
    now = timezone.now()
    observed_log.configure(schedule_at=now - timedelta(seconds=300)).defer(text="a")
    # Due at once: waiting since now.
    observed_log.defer(text="b")
    # Not due yet: not waiting.
    observed_log.configure(schedule_at=now + timedelta(hours=1)).defer(text="c")
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks_read = response.json()["checks"]
    assert checks_read["queue_depth"]["value"] == 2
    assert checks_read["queue_oldest_wait_seconds"]["status"] == "fail"
    assert checks_read["queue_oldest_wait_seconds"]["value"] >= 300


def _deferred_ago(job_id: int, seconds: float) -> None:
    """Move the job's 'deferred' event into the past (Procrastinate's trigger
    records it at the insert)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = %s "
            "WHERE job_id = %s AND type = 'deferred'",
            [timezone.now() - timedelta(seconds=seconds), job_id],
        )


@pytest.mark.django_db
@override_settings(
    OMS_TASKS_BACKEND="database",
    OMS_HEALTH_QUEUE_WAIT_MAX_SECONDS=60,
    OMS_HEALTH_WORKERS_MIN=0,
)
def test_a_job_deferred_long_ago_fails_readiness(client):
    _deferred_ago(observed_log.defer(text="old"), seconds=300)
    observed_log.defer(text="new")
    response = client.get("/health/ready")
    assert response.status_code == 503
    wait = response.json()["checks"]["queue_oldest_wait_seconds"]
    assert wait["status"] == "fail"
    assert 300 <= wait["value"] < 330


@pytest.mark.django_db
@override_settings(OMS_TASKS_BACKEND="database")
def test_the_oldest_wait_reads_indexes_not_the_whole_queue():
    # Enough rows, freshly analysed, for the planner to prefer its indexes.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
            "SELECT 'default', 't', '{}', 'succeeded' FROM generate_series(1, 5000)"
        )
        cursor.execute(
            "INSERT INTO procrastinate_events (job_id, type) "
            "SELECT id, 'deferred' FROM procrastinate_jobs"
        )
        cursor.execute("ANALYZE procrastinate_jobs")
        cursor.execute("ANALYZE procrastinate_events")
        cursor.execute("EXPLAIN " + _OLDEST_DUE, {"now": timezone.now()})
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on procrastinate_jobs" not in plan, plan
    assert "Seq Scan on procrastinate_events" not in plan, plan


def _beat(seconds_ago: float) -> str:
    """A Procrastinate worker last heard that long ago; its id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (%s) "
            "RETURNING id",
            [timezone.now() - timedelta(seconds=seconds_ago)],
        )
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
@override_settings(OMS_TASKS_BACKEND="database", OMS_HEALTH_WORKERS_MIN=1)
def test_no_living_worker_fails_readiness_when_tasks_need_one(client):
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["workers_alive"]["status"] == "fail"


@pytest.mark.django_db
@override_settings(OMS_TASKS_BACKEND="database", OMS_HEALTH_WORKERS_MIN=1)
def test_a_dead_worker_is_reported_beside_a_living_one(client, settings):
    _beat(seconds_ago=1)
    dead = _beat(seconds_ago=settings.OMS_WORKER_STALE_SECONDS + 5)
    # Dead long ago: no longer reported.
    _beat(seconds_ago=2 * 3600)
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warning"
    assert body["checks"]["workers_alive"]["value"] == 1
    assert body["checks"]["workers_alive"]["status"] == "ok"
    assert body["checks"]["workers_dead"]["value"] == 1
    assert body["checks"]["workers_dead"]["status"] == "warning"
    # Named, as its `manage.py worker` logged it when it started.
    assert body["checks"]["workers_dead"]["detail"].endswith(f": workers {dead}")


@pytest.mark.django_db
def test_a_worker_is_not_required_when_tasks_run_in_process(client):
    # The tests' settings: OMS_TASKS_BACKEND=immediate.
    response = client.get("/health/ready")
    assert response.json()["checks"]["workers_alive"]["status"] == "ok"
    assert response.json()["checks"]["workers_alive"]["threshold"] == 0
