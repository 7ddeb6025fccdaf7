"""The recovery of dead workers' work and the job rows, on PostgreSQL:
Procrastinate jobs of dead workers are queued again or failed, jobs of dead
runs end failed with the reason, and a failed job retries to done."""

import asyncio
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from procrastinate import sql as procrastinate_sql

from core.jobs import job_waiting_notice, jobs_reap
from core.worker import stalled_work_recover
from fulfillment.models import PrintJob
from orders.models import ImportJob, Order
from orders.services.allocation import backorders_reallocate_task
from tests.orders.test_import import SAMPLE, catalogue  # noqa: F401
from tests.orders.test_import_admin import manager_client, upload  # noqa: F401

pytestmark = pytest.mark.django_db


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def beat(seconds_ago: float = 0) -> str:
    """A Procrastinate worker whose last heartbeat was that long ago; its id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - make_interval(secs => %s)) RETURNING id",
            [seconds_ago],
        )
        return str(cursor.fetchone()[0])


QUEUE = "test-recovery"


def fetch(worker_id: str) -> int:
    """Fetch the next job of the test queue as this worker would."""
    with connection.cursor() as cursor:
        cursor.execute(
            procrastinate_sql.queries["fetch_job"],
            {"queues": [QUEUE], "worker_id": int(worker_id)},
        )
        return cursor.fetchone()[0]


def fetched_job(worker_id: str) -> int:
    """A job deferred to the queue and fetched by this worker (doing)."""
    job_id = backorders_reallocate_task.configure(queue=QUEUE).defer(product_ids=[])
    assert fetch(worker_id) == job_id
    return job_id


def job_row(job_id: int) -> tuple[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, attempts FROM procrastinate_jobs WHERE id = %s", [job_id]
        )
        return cursor.fetchone()


@pytest.fixture
def database_queue(settings):
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_WORKER_STALE_SECONDS = 60


def running_import(**fields) -> ImportJob:
    return ImportJob.objects.create(
        filename="orders.csv",
        source=None,
        status="running",
        stage="writing",
        attempts=1,
        **fields,
    )


# ---- stalled Procrastinate jobs


def test_job_of_a_dead_worker_is_queued_again(database_queue):
    job_id = fetched_job(beat(seconds_ago=300))

    report = stalled_work_recover()

    assert job_row(job_id) == ("todo", 1)
    assert job_id in report.retried


def test_job_of_a_living_worker_is_left_running(database_queue):
    job_id = fetched_job(beat(seconds_ago=1))

    report = stalled_work_recover()

    assert job_row(job_id) == ("doing", 0)
    assert job_id not in report.retried + report.failed


def test_job_that_killed_max_claims_workers_is_failed(database_queue, settings):
    settings.OMS_TASK_MAX_CLAIMS = 2
    job_id = fetched_job(beat(seconds_ago=300))
    assert job_id in stalled_work_recover().retried
    assert fetch(beat(seconds_ago=300)) == job_id  # a second worker, dead too

    report = stalled_work_recover()

    assert job_row(job_id)[0] == "failed"
    assert job_id in report.failed


# ---- jobs_reap


def test_import_whose_worker_died_fails_with_the_reason():
    job = running_import(worker_id="dead", heartbeat_at=ago(300))

    failed = jobs_reap(alive={"someone-else"}, now=timezone.now())

    job.refresh_from_db()
    assert failed == 1
    assert job.status == "failed"
    assert job.error == (
        "the worker running this import stopped (killed or out of memory) while "
        "writing the orders; nothing was written. Retry runs it again."
    )
    assert job.result["summary"] == job.error


def test_import_of_a_living_worker_is_left_running():
    job = running_import(worker_id="alive", heartbeat_at=ago(300))

    assert jobs_reap(alive={"alive"}, now=timezone.now()) == 0
    job.refresh_from_db()
    assert job.status == "running"


def test_job_that_beat_recently_waits_for_the_stale_limit():
    job = running_import(worker_id="quiet", heartbeat_at=ago(2))

    assert jobs_reap(alive=set(), now=timezone.now()) == 0
    job.refresh_from_db()
    assert job.status == "running"


def test_import_lost_after_its_write_says_retry_settles_it():
    job = running_import(worker_id="dead", heartbeat_at=ago(300))
    ImportJob.objects.filter(pk=job.pk).update(stage="settling")

    jobs_reap(alive=set(), now=timezone.now())

    job.refresh_from_db()
    assert "after the orders were written" in job.error
    assert "no order is imported twice" in job.error


def test_in_process_job_is_failed_only_when_long_silent(settings):
    settings.OMS_JOB_INPROCESS_STALE_SECONDS = 600
    silent = running_import(heartbeat_at=ago(601))
    busy = running_import(heartbeat_at=ago(300))

    jobs_reap(alive=set(), now=timezone.now())

    silent.refresh_from_db()
    busy.refresh_from_db()
    assert silent.status == "failed"
    assert "no sign of life for 600 s" in silent.error
    assert busy.status == "running"


def test_job_whose_task_ended_without_it_is_failed(database_queue):
    task_id = fetched_job(beat())
    with connection.cursor() as cursor:
        cursor.execute(
            procrastinate_sql.queries["finish_job"],
            {"job_id": task_id, "status": "failed", "delete_job": False},
        )
    job = running_import(worker_id="alive", task_id=str(task_id), heartbeat_at=ago(1))

    jobs_reap(alive={"alive"}, now=timezone.now())

    job.refresh_from_db()
    assert job.status == "failed"
    assert "the task running this import ended without finishing it" in job.error


def test_print_batch_whose_worker_died_fails_with_the_reason():
    job = PrintJob.objects.create(
        kind="packing_slip",
        status="running",
        total=40,
        done=20,
        worker_id="dead",
        heartbeat_at=ago(300),
        attempts=1,
    )

    jobs_reap(alive=set(), now=timezone.now())

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == (
        "the worker running this print batch stopped (killed or out of memory) "
        "after 20 of 40 documents; nothing was printed. Retry renders the batch "
        "again."
    )


def test_reaper_spares_a_job_retried_meanwhile():
    job = running_import(worker_id="dead", heartbeat_at=ago(300))
    stale_copy = ImportJob.objects.get(pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(attempts=2, worker_id="new")

    from core.jobs import job_reap

    assert job_reap(stale_copy, alive=set()) is False
    job.refresh_from_db()
    assert job.status == "running"


# ---- status pages: the end, the no-worker notice, Retry


def test_queued_job_with_no_worker_says_so(settings):
    settings.OMS_TASKS_BACKEND = "database"
    beat(seconds_ago=125)
    job = ImportJob.objects.create(
        filename="orders.csv", source=None, status="queued", queued_at=ago(30)
    )

    notice = job_waiting_notice(job)

    assert notice.startswith("Waiting for a background worker; none has been seen")
    seconds = re.search(r"none has been seen for (\d+) s", notice)
    assert seconds and 125 <= int(seconds[1]) < 140, notice
    assert "manage.py worker" in notice
    beat()
    assert job_waiting_notice(job) == ""


def test_import_status_stops_polling_when_no_worker_runs_it(
    settings,
    manager_client,  # noqa: F811
):
    settings.OMS_TASKS_BACKEND = "database"
    job = ImportJob.objects.create(
        filename="orders.csv", source=None, status="queued", queued_at=ago(42)
    )
    page = reverse("admin:orders_import_job", args=[job.pk])

    status = manager_client.get(page + "status/").json()
    content = manager_client.get(page).content.decode()

    assert status["finished"] is True
    seconds = re.search(r"none has been seen for (\d+) s", status["notice"])
    assert seconds and 42 <= int(seconds[1]) < 60, status["notice"]
    assert 'id="import-notice"' in content and "import-progress" not in content


def test_import_page_of_a_dead_run_ends_failed_with_retry(
    manager_client,  # noqa: F811
    catalogue,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    upload(manager_client, SAMPLE.read_bytes())
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", stage="writing", worker_id="dead", heartbeat_at=ago(300)
    )
    page = reverse("admin:orders_import_job", args=[job.pk])

    status = manager_client.get(page + "status/").json()
    content = manager_client.get(page).content.decode()

    assert (status["status"], status["finished"]) == ("failed", True)
    assert "nothing was written" in status["error"]
    assert 'id="import-retry"' in content

    retry = reverse("admin:orders_import_retry", args=[job.pk])
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(retry)
        manager_client.post(retry)  # a second click finds it done: no second run

    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == ("done", "", 1)
    assert Order.objects.count() == 3


def test_import_refused_for_its_content_offers_no_retry(
    manager_client,  # noqa: F811
):
    job = ImportJob.objects.create(
        filename="orders.csv",
        source=None,
        status="failed",
        result={"summary": "imported 0 of 3 orders", "problems": ["row 2: bad"]},
    )

    content = manager_client.get(
        reverse("admin:orders_import_job", args=[job.pk])
    ).content.decode()

    assert "Upload a corrected file" in content or "import-retry" not in content
    assert 'id="import-retry"' not in content


def test_worker_starts_again_when_the_database_fails(monkeypatch):
    from django.db.utils import OperationalError

    from core import worker as worker_module

    calls = []

    async def flaky_run(name, queues, stopping):
        calls.append(name)
        if len(calls) == 1:
            raise OperationalError("connection refused")
        stopping.set()

    monkeypatch.setattr(worker_module, "_run_once", flaky_run)

    asyncio.run(worker_module.workers_run(name="steady"))

    assert calls == ["steady", "steady"]
