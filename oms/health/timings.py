"""The timing histograms (prometheus_client), apart from what reads the
database, so that the task engine's hook (oms.health.queue) can record into
them without importing the readiness checks."""

from prometheus_client import Histogram

REQUEST_DURATION = Histogram(
    "oms_http_request_duration_seconds",
    "Time to answer a request, by view, method and status code.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_DURATION = Histogram(
    "oms_job_duration_seconds",
    "Time a background job ran, by task and outcome.",
    ["task", "status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)


def job_duration_observe(*, task: str, status: str, seconds: float) -> None:
    """Record one job's run (called by the engine's hook, oms.health.queue)."""
    JOB_DURATION.labels(task=task, status=status).observe(seconds)
