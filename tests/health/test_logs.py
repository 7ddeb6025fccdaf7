"""Log lines: JSON objects carrying the request id, in requests and in the
jobs they cause."""

import io
import json
import logging

import pytest
from django.conf import settings

from core.request_id import HEADER, RequestIdFilter, request_id_bound
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
    response = client.get("/observed/enqueue", headers={HEADER: "abc-123"})
    assert response[HEADER] == "abc-123"
    lines = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert [(line["message"], line["request_id"]) for line in lines] == [
        ("request says hello", "abc-123"),
        ("job says from the request", "abc-123"),
    ]


@pytest.mark.django_db
@pytest.mark.urls("tests.support.observed")
def test_a_request_without_a_sane_id_gets_a_new_one(client, json_lines):
    response = client.get("/observed/enqueue", headers={HEADER: "bad id\x7f" * 20})
    made = response[HEADER]
    assert len(made) == 32 and made.isalnum()
    lines = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert {line["request_id"] for line in lines} == {made}


def test_a_job_outside_any_request_logs_under_its_own_id(json_lines):
    result = observed_log.enqueue(text="alone")
    (line,) = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert line["request_id"] == f"job-{result.id}"


def test_a_job_binds_the_request_id_it_carried(json_lines):
    # How the engine's worker side runs a job that carried an id.
    with request_id_bound("carried-7"):
        observed_log.enqueue(text="carried")
    (line,) = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert line["request_id"] == "carried-7"


def test_the_job_hook_binds_a_carried_request_id_and_times_the_job(json_lines):
    # What an engine's middleware does around a job (oms.health.queue).
    from prometheus_client import REGISTRY

    from oms.health.queue import job_observed

    def count() -> float:
        labels = {"task": "t.carried", "status": "successful"}
        return REGISTRY.get_sample_value("oms_job_duration_seconds_count", labels) or 0

    before = count()
    with job_observed(task="t.carried", request_id="from-enqueue-9"):
        logging.getLogger("tests.observed").warning("inside")
    (line,) = [line for line in json_lines() if line["logger"] == "tests.observed"]
    assert line["request_id"] == "from-enqueue-9"
    assert count() > before
