"""Prometheus metrics (prometheus_client), served at `/metrics`.

- Gauges read at scrape time from `readiness()`, the same figures as
  `/health/ready`: `oms_ready`, `oms_database_up`, `oms_queue_depth`,
  `oms_queue_oldest_wait_seconds`, `oms_workers_alive`, `oms_workers_dead`,
  `oms_inbox_waiting`, `oms_inbox_oldest_wait_seconds`, `oms_inbox_failed`,
  `oms_outbox_pending`, `oms_outbox_overdue_seconds`, `oms_outbox_failed`,
  `oms_outbox_destinations_paused`.
  Whatever gunicorn worker answers the scrape reads the database, so they
  are right with any number of processes.
- `oms_http_request_duration_seconds{view, method, status}` (histogram), by
  `RequestMetricsMiddleware`, first in the middleware.
- `oms_job_duration_seconds{task, status}` (histogram), observed where jobs
  run (`oms.health.queue`).

Both histograms are defined in `oms.health.timings`.

Histograms live in each process. With several processes (gunicorn workers,
a worker beside them), set `PROMETHEUS_MULTIPROC_DIR` to an empty directory,
the same for every process of the machine, emptied at each start: each
process then writes its figures there and `/metrics` adds them up
(prometheus_client's multiprocess mode; gunicorn.conf.py marks exited
workers dead).
"""

import hmac
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from oms.health.checks import FAIL, OK, readiness
from oms.health.timings import REQUEST_DURATION

# Gauge name -> (check in readiness() whose value it is, help).
GAUGES = {
    "oms_queue_depth": ("queue_depth", "Background jobs waiting, due now."),
    "oms_queue_oldest_wait_seconds": (
        "queue_oldest_wait_seconds",
        "Seconds the oldest due background job has waited.",
    ),
    "oms_workers_alive": ("workers_alive", "Background workers beating."),
    "oms_workers_dead": (
        "workers_dead",
        "Background workers silent past the stale limit, in the last hour.",
    ),
    "oms_inbox_waiting": ("inbox_waiting", "Inbound messages not yet processed."),
    "oms_inbox_oldest_wait_seconds": (
        "inbox_oldest_wait_seconds",
        "Seconds the oldest unprocessed inbound message has waited.",
    ),
    "oms_inbox_failed": ("inbox_failed", "Inbound messages that failed."),
    "oms_outbox_pending": ("outbox_pending", "Outbound messages waiting."),
    "oms_outbox_overdue_seconds": (
        "outbox_overdue_seconds",
        "Seconds the most overdue outbound message is past its time.",
    ),
    "oms_outbox_failed": ("outbox_failed", "Outbound messages that gave up."),
    "oms_outbox_destinations_paused": (
        "outbox_destinations_paused",
        "Destinations paused because they did not answer.",
    ),
}


class ReadinessCollector:
    """The readiness figures as gauges, read when Prometheus scrapes."""

    def collect(self):
        state = readiness()
        checks = state["checks"]
        yield _gauge(
            "oms_ready", "1 when /health/ready answers 200.", state["status"] != FAIL
        )
        yield _gauge(
            "oms_database_up",
            "1 when the database answers.",
            checks["database"]["status"] == OK,
        )
        for name, (check, text) in GAUGES.items():
            if check in checks:
                yield _gauge(name, text, checks[check]["value"] or 0)


def _gauge(name: str, text: str, value) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=float(value))


def metrics_text() -> bytes:
    """The exposition: this process's (or, in multiprocess mode, every
    process's) histograms, then the readiness gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(ReadinessCollector())
    return generate_latest(registry) + generate_latest(gauges)


def _allowed(request: HttpRequest) -> bool:
    token = settings.OMS_METRICS_TOKEN
    if not token:
        return settings.DEBUG
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, for a scraper sending `Authorization:
    Bearer <OMS_METRICS_TOKEN>` (open without a token only in DEBUG; 404
    otherwise, so an unconfigured site shows nothing)."""
    if not _allowed(request):
        status = 401 if settings.OMS_METRICS_TOKEN else 404
        response = HttpResponse(status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Time every request into `oms_http_request_duration_seconds`, labelled
    by the view's name (never the raw path: bounded label values)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unresolved"
        REQUEST_DURATION.labels(
            view=view, method=_method(request.method), status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "other"
