"""Run a background job row (an import, a print batch) the one same way, and
make sure none stays stuck.

A job is a `core.models.BackgroundJob` row with `status` ("queued",
"running", "done", "failed" among its values) and `finished_at`. `job_run`
claims the row (only from a runnable status, so two workers never run one
job), calls the body, and records how it ended::

    def body(job, progress) -> dict:
        result = do_the_work(job, on_progress=lambda done, total: progress(
            done=done, total=total))
        return {"pdf": result.pdf, "pages": result.pages}

    job = job_run(
        PrintJob.objects.all(),
        job_id=job_id,
        body=body,
        runnable=("queued",),
        on_start={"started_at": timezone.now(), "done": 0},
    )

- The claim records the Procrastinate worker and job running it
  (`core.tasks.current_worker_id`, `current_task_id`), counts
  the attempt and starts the heartbeat; every `progress(**fields)` writes the
  fields at once (the runner is not inside a transaction, so a progress page
  sees them) and beats.
- The body returns the fields to write when it ends; the status is "done"
  unless those fields say otherwise (`{"status": "failed", ...}`).
- A `DomainError` marks the job failed with its message in `error` (plus
  `on_failure(error)`'s fields) and `job_run` returns the job. Any other
  exception does the same and is raised again. A database connection lost
  under the body is recorded on a new connection, so the job still ends.
- The job is returned as it is in the database after the run; a job that
  was not runnable is returned unchanged.

A job whose run died without ending it (worker killed, out of memory, web
process gone) is failed by `jobs_reap` (called by the workers' periodic
`core.worker.work_recover` when a Procrastinate worker's heartbeat stops) or, when no worker is left to call it, by `job_reap` from the job's
status page; `job_retry` queues a failed job again. Effects stay
exactly-once because a job's writes are one transaction (or idempotent) and
only one run can hold the claim.

The claim is fenced: a run's every write to its row (progress, the end) is
conditioned on the row still running *its* attempt. A worker that was paused
(SIGSTOP, a VM pause) long enough to be declared dead finds, at its next
progress, that the reaper failed the job or a retry claimed it: it stops
(`JobClaimLost`, logged) and its open transaction rolls back. A body that
calls `progress` inside its write transaction (the import does, as it
commits) makes the claim check and the writes one commit: the row stays
locked until then, and the reaper skips a row whose heartbeat moved since it
read it, so the record never says both "nothing was written" and done.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.models import F, Model, Q, QuerySet
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from core.exceptions import DomainError
from core.faults import fault_pause
from core.models import BackgroundJob
from core.tasks import (
    current_task_id,
    current_worker_id,
    defer_in_transaction,
    last_heartbeat,
    task_ended,
    workers_alive,
)

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
CONNECTION_ERRORS = (OperationalError, InterfaceError)

Progress = Callable[..., None]
JobBody = Callable[[Any, Progress], Mapping[str, Any] | None]


class JobClaimLost(Exception):
    """This run's claim on its job was taken away (the reaper failed the job
    while its worker was silent, or a retry claimed it): the run stops and its
    open transaction rolls back."""

    def __init__(self, job: Model) -> None:
        super().__init__(
            f"{type(job).__name__} {job.pk}, attempt {job.attempts}: this run lost "
            "its claim (failed as stopped, or retried) while it was paused; its "
            "work is rolled back and it ends without writing"
        )


def _no_failure_fields(error: Exception) -> dict[str, Any]:
    return {}


def _reconnecting(rows: QuerySet, call: Callable[[], Any]) -> Any:
    """Call, again on a new connection if the old one died (outside a
    transaction only: inside one, the caller's transaction is lost anyway)."""
    try:
        return call()
    except CONNECTION_ERRORS:
        connection = connections[rows.db]
        if connection.in_atomic_block:
            raise
        connection.close()
        return call()


def _record(rows: QuerySet, **fields: Any) -> None:
    """Write fields on the job row, on a new connection if the old one died."""
    _reconnecting(rows, lambda: rows.update(**fields))


def _failure_text(job: BackgroundJob, error: Exception) -> str:
    if isinstance(error, CONNECTION_ERRORS):
        return job.lost_message(
            "the database connection of this {job} was lost (database restart, "
            "failover or a terminated session)"
        )
    if isinstance(error, DomainError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def job_run(
    jobs: type[Model] | QuerySet,
    *,
    job_id: int,
    body: JobBody,
    runnable: Iterable[str] = ("previewed", QUEUED),
    on_start: Mapping[str, Any] | None = None,
    on_failure: Callable[[Exception], Mapping[str, Any]] = _no_failure_fields,
) -> Any:
    """Run the body of one job row, recording running, progress and the end."""
    queryset = jobs if isinstance(jobs, QuerySet) else jobs._default_manager.all()
    model = queryset.model
    rows = model._default_manager.filter(pk=job_id)
    # Only by the task it was queued for (or any, when none was recorded): a
    # task of an earlier attempt, put back in the queue when its worker was
    # declared dead, finds the job queued again for another task and leaves it.
    task_id = current_task_id() or ""
    claimed = rows.filter(
        Q(task_id="") | Q(task_id=task_id), status__in=list(runnable)
    ).update(
        status=RUNNING,
        worker_id=current_worker_id() or "",
        task_id=task_id,
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
        error="",
        **(on_start or {}),
    )
    if not claimed:
        return queryset.get(pk=job_id)
    job = queryset.get(pk=job_id)
    pause_point = f"{model._meta.model_name}.progress"
    # The claim: this run's attempt, as long as the row is running. Every
    # write of the run goes through it (the fence).
    mine = rows.filter(status=RUNNING, attempts=job.attempts)

    def progress(**fields: Any) -> None:
        fault_pause(pause_point)
        if not _reconnecting(
            rows, lambda: mine.update(heartbeat_at=timezone.now(), **fields)
        ):
            raise JobClaimLost(job)

    try:
        outcome = dict(body(job, progress) or {})
    except JobClaimLost as lost:
        logger.warning("%s", lost)
        return queryset.get(pk=job_id)
    except Exception as error:
        # The row as the body left it (its stage) says where it stopped.
        current = _reconnecting(
            rows, lambda: rows.defer(*model.heavy_fields).first() or job
        )
        _record(
            mine,
            status=FAILED,
            finished_at=timezone.now(),
            error=_failure_text(current, error),
            **on_failure(error),
        )
        if isinstance(error, DomainError):
            return queryset.get(pk=job_id)
        raise
    if not _reconnecting(
        rows,
        lambda: mine.update(
            **{"status": DONE, "finished_at": timezone.now(), **outcome}
        ),
    ):
        logger.warning("%s", JobClaimLost(job))
    return queryset.get(pk=job_id)


def background_job_models() -> list[type[BackgroundJob]]:
    """Return every installed job model (the reaper watches them all)."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, BackgroundJob) and not model._meta.abstract
    ]


def job_lost_cause(job: BackgroundJob, *, alive: set[str], now: datetime) -> str | None:
    """Say why a running job's run is over without an end, or None if it is
    (as far as anyone can tell) still running."""
    # Claimed or beating moments ago: its worker's first beat may be on its way.
    recent = job.heartbeat_at is not None and job.heartbeat_at > now - timedelta(
        seconds=settings.OMS_WORKER_STALE_SECONDS
    )
    if job.worker_id:
        if job.worker_id not in alive and not recent:
            return "the worker running this {job} stopped (killed or out of memory)"
    elif job.heartbeat_at is None or job.heartbeat_at < now - timedelta(
        seconds=settings.OMS_JOB_INPROCESS_STALE_SECONDS
    ):
        return (
            "the process running this {job} stopped (no sign of life for "
            f"{settings.OMS_JOB_INPROCESS_STALE_SECONDS:.0f} s)"
        )
    if job.task_id and task_ended(job.task_id):
        return "the task running this {job} ended without finishing it"
    return None


def job_reap(
    job: BackgroundJob, *, alive: set[str] | None = None, now: datetime | None = None
) -> bool:
    """Fail one running job whose run is over without an end; say if it was."""
    if job.status != RUNNING:
        return False
    now = now or timezone.now()
    alive = workers_alive(now) if alive is None else alive
    cause = job_lost_cause(job, alive=alive, now=now)
    if cause is None:
        return False
    message = job.lost_message(cause)
    # The same attempt as it was read: a retry that claimed it meanwhile, or
    # a run that reported progress since (its stage may say the work is
    # written), is left alone.
    failed = (
        type(job)
        ._default_manager.filter(
            pk=job.pk,
            status=RUNNING,
            attempts=job.attempts,
            heartbeat_at=job.heartbeat_at,
        )
        .update(
            status=FAILED, finished_at=now, error=message, **job.lost_fields(message)
        )
    )
    return bool(failed)


def jobs_reap(
    *,
    alive: set[str] | None = None,
    now: datetime | None = None,
    models: Iterable[type[BackgroundJob]] | None = None,
) -> int:
    """Fail the running jobs whose worker died or whose run went silent (the
    periodic recovery calls it; job lists call it for their model); return how
    many."""
    now = now or timezone.now()
    alive = workers_alive(now) if alive is None else alive
    failed = 0
    for model in background_job_models() if models is None else models:
        running = model._default_manager.filter(status=RUNNING).defer(
            *model.heavy_fields
        )
        for job in running:
            failed += job_reap(job, alive=alive, now=now)
    return failed


def job_waiting_notice(job: BackgroundJob, *, now: datetime | None = None) -> str:
    """Tell why a queued job does not start when no worker is alive ("" if one is)."""
    if job.status != QUEUED or settings.OMS_TASKS_BACKEND != "database":
        return ""
    now = now or timezone.now()
    if workers_alive(now):
        return ""
    since = last_heartbeat() or job.queued_at or job.created_at
    seconds = max(0, int((now - since).total_seconds()))
    return (
        f"Waiting for a background worker; none has been seen for {seconds} s "
        "— start one with: manage.py worker"
    )


def job_retry(job: BackgroundJob, *, enqueue: Callable[[], int], **reset: Any) -> bool:
    """Queue a failed job again (a new task runs it); say if it was failed.

    `reset` are the model's own fields to clear for the new run.
    """
    queued = (
        type(job)
        ._default_manager.filter(pk=job.pk, status=FAILED)
        .update(
            status=QUEUED,
            queued_at=timezone.now(),
            worker_id="",
            task_id="",
            heartbeat_at=None,
            finished_at=None,
            error="",
            **reset,
        )
    )
    if queued:
        job_enqueue(job, enqueue)
    return bool(queued)


def job_enqueue(job: BackgroundJob, enqueue: Callable[[], int]) -> None:
    """Defer the job's task in the caller's transaction (`enqueue` returns the
    Procrastinate job id) and record it on the queued job, so that only this
    task may claim it (in immediate mode the task runs after the commit)."""

    def send() -> None:
        task_id = enqueue()
        if task_id and task_id > 0:
            type(job)._default_manager.filter(pk=job.pk, status=QUEUED).update(
                task_id=str(task_id)
            )

    defer_in_transaction(send)
