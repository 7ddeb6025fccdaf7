"""A task and a view for the observability tests (logs, metrics, Sentry)."""

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django_tasks import task

logger = logging.getLogger("tests.observed")


@task()
def observed_log(*, text: str) -> None:
    """Log `text` from inside a job."""
    logger.warning("job says %s", text)


@task()
def observed_fail() -> None:
    """A job that raises."""
    raise RuntimeError("the job broke")


def observed_enqueue(request: HttpRequest) -> JsonResponse:
    """A request that logs, then runs a job (in process with the immediate
    backend)."""
    logger.warning("request says hello")
    observed_log.enqueue(text="from the request")
    return JsonResponse({"ok": True})


def observed_boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("the view broke")


urlpatterns = [
    path("observed/enqueue", observed_enqueue),
    path("observed/boom", observed_boom),
    path("", include("oms.urls")),
]
