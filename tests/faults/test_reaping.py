"""The reaper and the scheduler, on any database: tasks of dead workers are
queued again or failed, periodic tasks run once per slot, jobs of dead runs
end failed with the reason, and a failed job retries to done."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.jobs import job_waiting_notice, jobs_reap
from core.models import ScheduleSlot, WorkerHeartbeat
from core.worker import periodic_enqueue, tasks_reap
from fulfillment.models import PrintJob
from orders.models import ImportJob, Order
from tests.faults.tasks import RUNS_KEY
from tests.orders.test_import import SAMPLE, catalogue  # noqa: F401
from tests.orders.test_import_admin import manager_client, upload  # noqa: F401

pytestmark = pytest.mark.django_db

TASK = "orders.importing.jobs.import_job_run_task"


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def beat(worker_id: str, seconds_ago: float = 0) -> None:
    WorkerHeartbeat.objects.create(
        worker_id=worker_id, started_at=ago(600), seen_at=ago(seconds_ago)
    )


def claimed_task(*worker_ids: str, started_seconds_ago: float = 300) -> DBTaskResult:
    return DBTaskResult.objects.create(
        status="RUNNING",
        args_kwargs={"args": [], "kwargs": {"job_id": 0}},
        task_path=TASK,
        backend_name="default",
        run_after=ago(600),
        started_at=ago(started_seconds_ago),
        worker_ids=list(worker_ids),
    )


def running_import(**fields) -> ImportJob:
    return ImportJob.objects.create(
        filename="orders.csv",
        source=None,
        status="running",
        stage="writing",
        attempts=1,
        **fields,
    )


# ---- tasks_reap


def test_task_of_a_dead_worker_is_queued_again():
    beat("dead", seconds_ago=300)
    task = claimed_task("dead")

    report = tasks_reap()

    task.refresh_from_db()
    assert (task.status, task.started_at) == ("READY", None)
    assert report.requeued == [str(task.pk)]


def test_task_of_a_living_worker_is_left_running():
    beat("alive")
    task = claimed_task("alive")

    report = tasks_reap()

    task.refresh_from_db()
    assert task.status == "RUNNING"
    assert report.requeued == report.failed == []


def test_worker_never_reaps_its_own_task_when_its_beat_is_late():
    beat("busy", seconds_ago=300)
    task = claimed_task("busy")

    tasks_reap(me="busy")

    task.refresh_from_db()
    assert task.status == "RUNNING"


def test_task_claimed_moments_ago_waits_for_its_workers_first_beat():
    task = claimed_task("new", started_seconds_ago=1)

    tasks_reap()

    task.refresh_from_db()
    assert task.status == "RUNNING"


def test_task_that_killed_max_claims_workers_is_failed(settings):
    settings.OMS_TASK_MAX_CLAIMS = 3
    task = claimed_task("w1", "w2", "w3")

    report = tasks_reap()

    task.refresh_from_db()
    assert task.status == "FAILED"
    assert task.exception_class_path == "core.worker.WorkerLost"
    assert "3 workers stopped" in task.traceback
    assert report.failed == [str(task.pk)]


# ---- periodic_enqueue


def test_periodic_task_runs_once_per_slot_whoever_asks(settings):
    settings.OMS_PERIODIC_TASKS = [("tests.faults.tasks.tick", 60)]
    cache.delete(RUNS_KEY)
    now = timezone.now().replace(second=5, microsecond=0)

    first = periodic_enqueue(now=now)
    second = periodic_enqueue(now=now + timedelta(seconds=30))  # same minute
    next_slot = periodic_enqueue(now=now + timedelta(seconds=60))

    assert first == next_slot == ["tests.faults.tasks.tick"]
    assert second == []
    assert cache.get(RUNS_KEY) == 2
    assert ScheduleSlot.objects.count() == 2


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


def test_job_whose_task_ended_without_it_is_failed():
    task = claimed_task("alive")
    DBTaskResult.objects.filter(pk=task.pk).update(status="FAILED")
    job = running_import(worker_id="alive", task_id=str(task.pk), heartbeat_at=ago(1))

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
    beat("gone", seconds_ago=125)
    job = ImportJob.objects.create(
        filename="orders.csv", source=None, status="queued", queued_at=ago(30)
    )

    notice = job_waiting_notice(job)

    assert notice.startswith("Waiting for a background worker; none has been seen")
    seconds = re.search(r"none has been seen for (\d+) s", notice)
    assert seconds and 125 <= int(seconds[1]) < 140, notice
    assert "manage.py worker" in notice
    beat("alive")
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


def test_worker_waits_for_the_database_instead_of_exiting(monkeypatch):
    from django.db.utils import OperationalError
    from django_tasks_db.management.commands.db_worker import Worker

    from core import worker as worker_module

    class SilentPulse:
        def __init__(self, worker_id):
            self.stopping = type("Stop", (), {"set": lambda self: None})()

        def start(self):
            pass

        def join(self, timeout=None):
            pass

    calls = []

    def flaky_run(self):
        calls.append("run")
        if len(calls) == 1:
            raise OperationalError("connection refused")

    monkeypatch.setattr(worker_module, "Pulse", SilentPulse)
    monkeypatch.setattr(Worker, "run", flaky_run)
    monkeypatch.setattr(worker_module.time, "sleep", lambda seconds: None)
    worker = worker_module.BeatingWorker(
        queue_names=["default"],
        interval=0.1,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="steady",
        excluded_queue_names=[],
    )

    worker.run()

    assert calls == ["run", "run"]
