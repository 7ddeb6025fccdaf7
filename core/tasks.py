"""Background work: Procrastinate, a PostgreSQL job queue, through its Django
integration (`procrastinate.contrib.django`).

Each task is declared beside the function it runs, on the one app::

    from core.tasks import app

    @app.task(queue="inbox", queueing_lock="inbox-drain")
    def inbound_drain_task() -> int: ...

    inbound_drain_task.defer()                      # queue it
    inbound_drain_task.configure(schedule_at=when).defer()

    @app.periodic(cron="*/15 * * * * *", periodic_id="outbox-due")  # seconds last
    @app.task(queueing_lock="outbox-due")
    def outbox_send_due(timestamp: int) -> int: ...

What this module adds to Procrastinate, all in `TransactionalJobManager`:

- **A periodic slot deferred late is not queued again**: a slot is deferred
  only while no later slot of its task is on record (Procrastinate keeps the
  record of the latest only).

- **Deferring is transactional.** A job is inserted through Django's
  connection of the calling thread, so a `defer()` inside
  `transaction.atomic()` commits or rolls back with the write that causes it
  — in a web process and inside a task run by a worker alike (Procrastinate's
  worker otherwise defers through its own connection pool).
- **`OMS_TASKS_BACKEND=immediate`** (the tests' default, one-off scripts):
  Procrastinate has no such mode, so `defer()` calls the task's function at
  once, in process, and returns `IMMEDIATE_JOB_ID` (-1: no queued job) as
  the job id. As django-tasks' immediate backend did, an exception in the
  task is logged, not raised to the caller; a queueing lock is not checked
  (nothing waits). Periodic tasks do not run (no worker); tests call their
  functions.

Where the job must start only once the caller's writes are committed (an
import, a label to buy), call `defer_in_transaction(lambda: task.defer(...))`:
queued in the transaction with the database queue, run after the commit in
immediate mode.

**Request ids travel with jobs.** Deferred in database mode while a request
id is current (core.request_id), a job carries it in its kwargs as
`_request_id`; the task middleware that observes jobs (oms.health.queue,
listed in `OMS_TASK_MIDDLEWARE`) takes it out before the task is called and
binds it while the job runs. Periodic jobs carry none.

**Task middleware from settings.** `OMS_TASK_MIDDLEWARE` lists dotted paths
of sync Procrastinate task middleware (`(call_next, context, worker)`),
installed by the worker (core.worker) and run around each task in immediate
mode too (with `worker=None`, `context.job.id` None): how the upper layers
(oms) observe jobs without core importing them.

A task deferred with a `queueing_lock` that is already waiting raises
`AlreadyEnqueued`; `defer_once` says "already queued" instead.

Workers: `manage.py worker` (core/management/commands/worker.py, see
core/worker.py for liveness and the recovery of stalled jobs).
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate import job_context as procrastinate_job_context
from procrastinate import jobs as procrastinate_jobs
from procrastinate import middleware as procrastinate_middleware
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.manager import JobManager

from core import sql
from core.request_id import request_id_current

logger = logging.getLogger("oms.tasks")

__all__ = [
    "AlreadyEnqueued",
    "app",
    "current_task_id",
    "current_worker_id",
    "defer_in_transaction",
    "defer_once",
    "tasks_can_wait",
    "workers_alive",
]

AlreadyEnqueued = procrastinate_exceptions.AlreadyEnqueued
# The job id `defer()` returns in immediate mode (the task ran; nothing queued).
IMMEDIATE_JOB_ID = -1
# The task kwarg a deferred job carries its request id in (taken out by the
# observing middleware before the task is called).
REQUEST_ID_KWARG = "_request_id"

# The worker and job this thread runs, while a worker runs a task (None
# elsewhere: a web request, a management command, immediate mode).
_current = threading.local()


def current_worker_id() -> str | None:
    """Return the id of the Procrastinate worker running the current task."""
    return getattr(_current, "worker_id", None)


def current_task_id() -> str | None:
    """Return the id of the Procrastinate job this thread is running, if any."""
    return getattr(_current, "task_id", None)


def stale_before(now: datetime | None = None) -> datetime:
    """Return the moment before which a silent worker counts as dead."""
    return (now or timezone.now()) - timedelta(
        seconds=settings.OMS_WORKER_STALE_SECONDS
    )


def workers_alive(now: datetime | None = None) -> set[str]:
    """Return the ids of the Procrastinate workers whose heartbeat is within
    the stale limit (OMS_WORKER_STALE_SECONDS)."""
    from procrastinate.contrib.django.models import ProcrastinateWorker

    beating = ProcrastinateWorker.objects.filter(last_heartbeat__gte=stale_before(now))
    return {str(pk) for pk in beating.values_list("pk", flat=True)}


def last_heartbeat() -> datetime | None:
    """Return the latest heartbeat of any worker on record (None: none)."""
    from procrastinate.contrib.django.models import ProcrastinateWorker

    latest = ProcrastinateWorker.objects.order_by("-last_heartbeat").first()
    return latest.last_heartbeat if latest else None


def task_ended(task_id: str) -> bool:
    """Say whether the Procrastinate job of this id will not run any more."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    if not task_id.isdigit():
        return False
    return ProcrastinateJob.objects.filter(
        pk=int(task_id), status__in=("succeeded", "failed", "cancelled", "aborted")
    ).exists()


def periodic_schedule() -> dict[str, str]:
    """Return each periodic task's name and its cron line (seconds last)."""
    return {
        periodic.task.name: periodic.cron
        for periodic in app.periodic_registry.periodic_tasks.values()
    }


def job_identity(call_next, context, worker) -> Any:
    """Sync task middleware (PROCRASTINATE_WORKER_DEFAULTS): make the worker
    and job ids known to the task's thread (`core.jobs` records them on the
    job rows it claims)."""
    _current.worker_id = str(worker.worker_id) if worker.worker_id else None
    _current.task_id = str(context.job.id) if context.job.id else None
    try:
        return call_next()
    finally:
        _current.worker_id = None
        _current.task_id = None


def task_middleware() -> list[Callable[..., Any]]:
    """Return the sync task middleware `OMS_TASK_MIDDLEWARE` lists (outermost
    first)."""
    return [import_string(path) for path in settings.OMS_TASK_MIDDLEWARE]


def tasks_can_wait() -> bool:
    """Whether a deferred task waits in the queue (for its time, or a worker);
    in immediate mode it runs at once and cannot be scheduled later."""
    return settings.OMS_TASKS_BACKEND != "immediate"


def defer_in_transaction(defer: Callable[[], Any]) -> None:
    """Queue a job with the caller's transaction: `defer` (a call of a task's
    `defer`) runs now, so the job is inserted in the transaction and commits
    or rolls back with it; in immediate mode it runs when the transaction
    commits (at once outside one), as `transaction.on_commit` did, so a task
    never runs on writes that may still roll back."""
    if settings.OMS_TASKS_BACKEND == "immediate":
        transaction.on_commit(defer)
    else:
        defer()


def defer_once(task, **kwargs: Any) -> bool:
    """Defer a task (or a `configure()`d one) that has a queueing lock; say
    False if one already waits. The refused insert is undone in a savepoint,
    so the caller's transaction goes on."""
    try:
        with transaction.atomic():
            task.defer(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


class TransactionalJobManager(JobManager):
    """Procrastinate's job manager, deferring through Django's connection (or,
    in immediate mode, running the task at once). Installed on the app by
    `app_ready` (PROCRASTINATE_ON_APP_READY)."""

    def __init__(self, connector) -> None:
        super().__init__(connector)
        self.django_connector = DjangoConnector(alias="default")

    def batch_defer_jobs(
        self, jobs: list[procrastinate_jobs.Job], connection: Any | None = None
    ) -> list[procrastinate_jobs.Job]:
        if settings.OMS_TASKS_BACKEND == "immediate":
            for job in jobs:
                self._run_now(job)
            return [job.evolve(id=IMMEDIATE_JOB_ID, status="succeeded") for job in jobs]
        request_id = request_id_current()
        if request_id:
            jobs = [
                job.evolve(
                    task_kwargs={**job.task_kwargs, REQUEST_ID_KWARG: request_id}
                )
                for job in jobs
            ]
        try:
            rows = self.django_connector.execute_query_all(
                **self._defer_jobs_query_kwargs(jobs=jobs)
            )
        except procrastinate_exceptions.UniqueViolation as exc:
            self._raise_already_enqueued(exc=exc, queueing_lock=exc.queueing_lock)
        return [
            job.evolve(id=rows[index]["id"], status="todo")
            for index, job in enumerate(jobs)
        ]

    async def defer_periodic_job(
        self, job: procrastinate_jobs.Job, periodic_id: str, defer_timestamp: int
    ) -> int | None:
        """Procrastinate's, deferring a slot only while no later slot of its
        task is on record (`core.sql.PERIODIC_DEFER_IF_LATEST`): a slot
        deferred late, once Procrastinate has forgotten it, is not queued a
        second time. Return the job's id, or None when not deferred."""
        if job.task_kwargs.get("timestamp") != defer_timestamp:
            raise procrastinate_exceptions.InvalidTimestamp
        try:
            result = await self.connector.execute_query_one_async(
                query=sql.PERIODIC_DEFER_IF_LATEST,
                task_name=job.task_name,
                defer_timestamp=defer_timestamp,
                periodic_id=periodic_id,
                queue=job.queue,
                priority=job.priority,
                lock=job.lock,
                queueing_lock=job.queueing_lock,
                args=job.task_kwargs,
            )
        except procrastinate_exceptions.UniqueViolation as exc:
            self._raise_already_enqueued(exc=exc, queueing_lock=job.queueing_lock)
        return result["id"]

    def _run_now(self, job: procrastinate_jobs.Job) -> None:
        task = app.tasks[job.task_name]
        # A copy: the middleware may take kwargs out of it.
        job = job.evolve(task_kwargs=dict(job.task_kwargs))
        context = procrastinate_job_context.JobContext(
            app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None
        )

        def run() -> Any:
            return task(**job.task_kwargs)

        try:
            procrastinate_middleware.compose(task_middleware(), run, context, None)()
        except Exception:
            logger.exception("Task %s failed (run at once)", job.task_name)


def app_ready(ready_app) -> None:
    """PROCRASTINATE_ON_APP_READY: defer through Django's connection."""
    manager = TransactionalJobManager(ready_app.connector)
    ready_app.job_manager = manager
