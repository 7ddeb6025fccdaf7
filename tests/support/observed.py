"""Tasks and views for the observability tests (logs, metrics, Sentry).

A worker process started with `DJANGO_SETTINGS_MODULE=tests.support.
observed_settings` knows these tasks."""

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from core.tasks import app

logger = logging.getLogger("tests.observed")


@app.task()
def observed_log(*, text: str) -> None:
    """Log `text` from inside a job."""
    logger.warning("job says %s", text)


@app.task()
def observed_fail() -> None:
    """A job that raises."""
    raise RuntimeError("the job broke")


def observed_defer(request: HttpRequest) -> JsonResponse:
    """A request that logs, then defers a job (run in process in immediate
    mode, queued for a worker in database mode)."""
    logger.warning("request says hello")
    job_id = observed_log.defer(text="from the request")
    return JsonResponse({"job_id": job_id})


def observed_boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("the view broke")


urlpatterns = [
    path("observed/defer", observed_defer),
    path("observed/boom", observed_boom),
    path("", include("oms.urls")),
]
