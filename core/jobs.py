"""Run a background job row (an import, a print batch) the one same way.

A job is a model row with `status` ("running", "done", "failed" among its
values) and `finished_at`. `job_run` claims the row (only from a runnable
status, so two workers never run one job), calls the body, and records how
it ended::

    def body(job, progress) -> dict:
        result = do_the_work(job, on_progress=lambda done, total: progress(
            done=done, total=total))
        return {"pdf": result.pdf, "pages": result.pages}

    job = job_run(
        PrintJob.objects.all(),
        job_id=job_id,
        body=body,
        runnable=("queued", "failed"),
        on_start={"started_at": timezone.now(), "done": 0, "error": ""},
        on_failure=lambda error: {"error": f"{type(error).__name__}: {error}"},
    )

- `progress(**fields)` writes the fields on the row at once (the runner is
  not inside a transaction, so a progress page sees them).
- The body returns the fields to write when it ends; the status is "done"
  unless those fields say otherwise (`{"status": "failed", ...}`).
- A `DomainError` marks the job failed with `on_failure(error)`'s fields
  and `job_run` returns the job: a visible failure, nothing to retry. Any
  other exception marks it failed the same way and is raised again.
- The job is returned as it is in the database after the run; a job that
  was not runnable is returned unchanged.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone

from core.exceptions import DomainError

RUNNING, DONE, FAILED = "running", "done", "failed"

Progress = Callable[..., None]
JobBody = Callable[[Any, Progress], Mapping[str, Any] | None]


def _failure_fields(error: Exception) -> dict[str, Any]:
    return {"error": str(error)}


def job_run(
    jobs: type[Model] | QuerySet,
    *,
    job_id: int,
    body: JobBody,
    runnable: Iterable[str] = ("previewed", "queued"),
    on_start: Mapping[str, Any] | None = None,
    on_failure: Callable[[Exception], Mapping[str, Any]] = _failure_fields,
) -> Any:
    """Run the body of one job row, recording running, progress and the end."""
    queryset = jobs if isinstance(jobs, QuerySet) else jobs._default_manager.all()
    rows = queryset.model._default_manager.filter(pk=job_id)
    claimed = rows.filter(status__in=list(runnable)).update(
        status=RUNNING, **(on_start or {})
    )
    if not claimed:
        return queryset.get(pk=job_id)
    job = queryset.get(pk=job_id)

    def progress(**fields: Any) -> None:
        rows.update(**fields)

    try:
        outcome = dict(body(job, progress) or {})
    except DomainError as error:
        rows.update(status=FAILED, finished_at=timezone.now(), **on_failure(error))
        return queryset.get(pk=job_id)
    except Exception as error:
        rows.update(status=FAILED, finished_at=timezone.now(), **on_failure(error))
        raise
    rows.update(**{"status": DONE, "finished_at": timezone.now(), **outcome})
    return queryset.get(pk=job_id)
