"""/metrics: the readiness gauges, request and job timings, behind a token."""

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from connections.models import InboundMessage
from tests.support.observed import observed_fail, observed_log

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _samples(response) -> dict:
    """{(name, frozenset(labels)): value} of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@override_settings(OMS_METRICS_TOKEN=TOKEN)
def test_metrics_refuse_a_scraper_without_the_token(client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


@override_settings(OMS_METRICS_TOKEN="", DEBUG=False)
def test_metrics_are_off_without_a_token_outside_debug(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
@override_settings(OMS_METRICS_TOKEN=TOKEN)
def test_metrics_carry_the_readiness_gauges(client, channel):
    InboundMessage.objects.create(
        channel=channel,
        source=InboundMessage.Source.API,
        topic="orders/create",
        status=InboundMessage.Status.FAILED,
    )
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response)
    assert _value(samples, "oms_ready") == 1
    assert _value(samples, "oms_database_up") == 1
    assert _value(samples, "oms_inbox_failed") == 1
    for name in (
        "oms_queue_depth",
        "oms_queue_oldest_wait_seconds",
        "oms_workers_alive",
        "oms_workers_dead",
        "oms_inbox_waiting",
        "oms_inbox_oldest_wait_seconds",
        "oms_outbox_pending",
        "oms_outbox_overdue_seconds",
        "oms_outbox_failed",
        "oms_outbox_destinations_paused",
    ):
        assert _value(samples, name) == 0, name


@pytest.mark.django_db
@override_settings(OMS_METRICS_TOKEN=TOKEN)
def test_metrics_time_requests_by_view_method_and_status(client):
    labels = {"view": "health-live", "method": "GET", "status": "200"}
    before = _value(
        _samples(client.get("/metrics", headers=AUTH)),
        "oms_http_request_duration_seconds_count",
        **labels,
    )
    client.get("/health/live")
    client.get("/health/live")
    samples = _samples(client.get("/metrics", headers=AUTH))
    count = _value(samples, "oms_http_request_duration_seconds_count", **labels)
    assert count == (before or 0) + 2
    assert _value(samples, "oms_http_request_duration_seconds_sum", **labels) > 0
    bucket = _value(
        samples, "oms_http_request_duration_seconds_bucket", le="+Inf", **labels
    )
    assert bucket == count


@pytest.mark.django_db
@override_settings(OMS_METRICS_TOKEN=TOKEN)
def test_an_unknown_path_is_labelled_unresolved_not_by_its_address(client):
    client.get("/no/such/page/12345")
    text = client.get("/metrics", headers=AUTH).content.decode()
    assert 'view="unresolved"' in text
    assert "12345" not in text


@pytest.mark.django_db
@override_settings(OMS_METRICS_TOKEN=TOKEN)
def test_metrics_time_jobs_by_task_and_outcome(client):
    def counts():
        samples = _samples(client.get("/metrics", headers=AUTH))
        return (
            _value(
                samples,
                "oms_job_duration_seconds_count",
                task=observed_log.name,
                status="successful",
            )
            or 0,
            _value(
                samples,
                "oms_job_duration_seconds_count",
                task=observed_fail.name,
                status="failed",
            )
            or 0,
        )

    ok_before, failed_before = counts()
    observed_log.defer(text="timed")
    observed_fail.defer()
    assert counts() == (ok_before + 1, failed_before + 1)
