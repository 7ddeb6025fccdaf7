"""Log lines: JSON objects carrying the request id, in requests and in the
jobs they cause (run in process, or by a real worker process)."""

import io
import json
import logging

import pytest
from django.conf import settings
from django.test import override_settings
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job

from core.request_id import HEADER, RequestIdFilter, request_id_bound
from core.tasks import REQUEST_ID_KWARG, app
from oms.health.queue import job_observe, job_observed
from tests.faults.processes import queue_forget, wait_for, workers
from tests.support.observed import observed_log


@pytest.fixture
def json_lines():
    """The console handler as the settings configure it for LOG_FORMAT=json;
    returns the parsed lines written so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    config = dict(settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    module, _, name = factory.rpartition(".")
    handler.setFormatter(getattr(__import__(module, fromlist=[name]), name)(**config))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_log_line_is_one_json_object_with_the_request_id(json_lines):
    with request_id_bound("req-42"):
        logging.getLogger("tests.logs").warning("stock %s", "low")
    (line,) = json_lines()
    assert line["message"] == "stock low"
    assert line["level"] == "WARNING"
    assert line["logger"] == "tests.logs"
    assert line["request_id"] == "req-42"
    assert "time" in line


def test_outside_a_request_the_request_id_is_a_dash(json_lines):
    logging.getLogger("tests.logs").warning("alone")
    assert json_lines()[0]["request_id"] == "-"


@pytest.mark.django_db
@pytest.mark.urls("tests.support.observed")
def test_a_request_and_the_job_it_runs_log_the_callers_request_id(client, json_lines):
    response = client.get("/observed/defer", headers={HEADER: "abc-123"})
    assert response[HEADER] == "abc-123"
    lines = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert [(line["message"], line["request_id"]) for line in lines] == [
        ("request says hello", "abc-123"),
        ("job says from the request", "abc-123"),
    ]


@pytest.mark.django_db
@pytest.mark.urls("tests.support.observed")
def test_a_request_without_a_sane_id_gets_a_new_one(client, json_lines):
    response = client.get("/observed/defer", headers={HEADER: "bad id\x7f" * 20})
    made = response[HEADER]
    assert len(made) == 32 and made.isalnum()
    lines = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert {line["request_id"] for line in lines} == {made}


def _worker_lines(worker) -> list[dict]:
    """The worker process's JSON log lines from the observed tasks."""
    lines = [
        json.loads(line)
        for line in worker.log.read_text(errors="replace").splitlines()
        if line.startswith("{")
    ]
    return [line for line in lines if line["logger"] == "tests.observed"]


def _ran(worker, job_id: int) -> bool:
    worker.alive()
    status = ProcrastinateJob.objects.get(id=job_id).status
    assert status != "failed", worker.log.read_text(errors="replace")[-3000:]
    return status == "succeeded"


WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.support.observed_settings",
    "LOG_FORMAT": "json",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.support.observed")
def test_a_worker_runs_a_job_under_the_request_id_that_deferred_it(client):
    queue_forget()  # what tests of whole transactions left behind
    with workers(("observed", WORKER_ENV)) as (worker,):
        with override_settings(OMS_TASKS_BACKEND="database"):
            response = client.get("/observed/defer", headers={HEADER: "abc-456"})
        job_id = response.json()["job_id"]
        wait_for(lambda: _ran(worker, job_id), timeout=30, what="the job to run")
        (line,) = _worker_lines(worker)
    assert line["message"] == "job says from the request"
    assert line["request_id"] == "abc-456"


@pytest.mark.django_db(transaction=True)
@override_settings(OMS_TASKS_BACKEND="database")
def test_a_worker_runs_a_job_deferred_outside_a_request_under_its_own_id():
    queue_forget()
    with workers(("observed", WORKER_ENV)) as (worker,):
        job_id = observed_log.defer(text="alone")
        wait_for(lambda: _ran(worker, job_id), timeout=30, what="the job to run")
        (line,) = _worker_lines(worker)
    assert line["message"] == "job says alone"
    assert line["request_id"] == f"job-{job_id}"


@pytest.mark.django_db
@override_settings(OMS_TASKS_BACKEND="database")
def test_deferring_stores_the_current_request_id_with_the_job():
    with request_id_bound("carried-7"):
        carried = observed_log.defer(text="carried")
    alone = observed_log.defer(text="alone")
    kwargs = dict(
        ProcrastinateJob.objects.filter(id__in=[carried, alone]).values_list(
            "id", "args"
        )
    )
    assert kwargs[carried] == {"text": "carried", REQUEST_ID_KWARG: "carried-7"}
    assert kwargs[alone] == {"text": "alone"}


def test_the_middleware_takes_the_carried_id_out_before_the_task_runs(json_lines):
    job = Job(
        id=12,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name=observed_log.name,
        task_kwargs={"text": "carried", REQUEST_ID_KWARG: "carried-7"},
    )
    context = JobContext(
        app=app, job=job, start_timestamp=0.0, abort_reason=lambda: None
    )
    # What Procrastinate's worker calls: the task with the job's kwargs as
    # they are when the middleware calls on.
    job_observe(lambda: observed_log(**job.task_kwargs), context, None)
    (line,) = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert line["request_id"] == "carried-7"
    assert job.task_kwargs == {"text": "carried"}


def test_the_job_hook_binds_a_carried_request_id_and_times_the_job(json_lines):
    # What the engine's middleware does around a job (oms.health.queue).
    from prometheus_client import REGISTRY

    def count() -> float:
        labels = {"task": "t.carried", "status": "successful"}
        return REGISTRY.get_sample_value("oms_job_duration_seconds_count", labels) or 0

    before = count()
    with job_observed(task="t.carried", request_id="from-defer-9"):
        logging.getLogger("tests.observed").warning("inside")
    (line,) = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert line["request_id"] == "from-defer-9"
    assert count() > before
