"""Everything health and metrics read of the background task engine, in one
place.

TODAY'S ENGINE: django-tasks with django-tasks-db (`DBTaskResult`, table
`django_tasks_database_dbtaskresult`) run by `manage.py worker` (core.worker),
whose workers beat in `core.models.WorkerHeartbeat`.

WHEN THE ENGINE CHANGES (Procrastinate), THIS MODULE IS THE ONE TO SWAP; the
rest of `oms.health` (readiness, metrics, logs, Sentry) reads only the
functions below and their plain return values:

- `queue_depth()`: jobs waiting and due; Procrastinate:
  `procrastinate_jobs` with `status = 'todo'` and
  `scheduled_at IS NULL OR scheduled_at <= now()` (its partial index on
  `status = 'todo'` keeps it cheap);
- `oldest_waiting_age()`: seconds the oldest due waiting job has waited;
  Procrastinate: `now() - min(coalesce(scheduled_at, <the job's 'deferred'
  event time>))` over the same rows (`procrastinate_events`, type
  'deferred'), or the queueing time the lead records;
- `worker_heartbeats()`: workers alive and recently dead; Procrastinate:
  `procrastinate_workers.last_heartbeat` against its stalled-worker bound;
- `workers_expected()`: whether a worker must be running at all (not when
  tasks run in process: `OMS_TASKS_BACKEND=immediate`);
- `job_hooks_install()`: observes every job a worker runs (duration and
  outcome into `oms_job_duration_seconds`, the carried request id bound while
  it runs, failures to Sentry); today through django-tasks' `task_started` /
  `task_finished` signals; with Procrastinate, a task (or worker) middleware
  calling `job_observed(...)` around `call_next()` (docs/operations.md,
  "Request ids").
"""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, Min, When
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.signals import task_finished, task_started
from django_tasks_db.models import DBTaskResult, get_date_max

from core.models import WorkerHeartbeat
from core.request_id import request_id_bound, request_id_current
from oms.health.sentry import job_error_report
from oms.health.timings import job_duration_observe

# A worker silent past the stale limit is dead; it stays reported (as a
# warning) this long after its last beat, then drops out of the figures.
DEAD_REPORTED_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Workers:
    alive: int
    dead: int
    # Seconds since the most recent beat of any worker (None: no worker).
    last_beat_age: float | None


def _waiting():
    """Jobs queued and due: READY rows (django-tasks-db's partial index on
    status = 'READY') without a delay or whose run_after has come."""
    return DBTaskResult.objects.ready()


def queue_depth() -> int:
    """Return how many jobs wait for a worker, due now."""
    return _waiting().count()


def oldest_waiting_age() -> float:
    """Return how long (seconds) the oldest due waiting job has waited since it
    became due (0 when none waits). django-tasks-db stores "no delay" as
    run_after = 9999-01-01: such a job is due from its enqueueing."""
    now = timezone.now()
    due_since = Case(
        When(run_after=get_date_max(), then=F("enqueued_at")),
        default=F("run_after"),
    )
    first = _waiting().aggregate(first=Min(due_since))["first"]
    return max(0.0, (now - first).total_seconds()) if first else 0.0


def worker_heartbeats() -> Workers:
    """Return the workers alive (beat within `OMS_WORKER_STALE_SECONDS`) and
    those silent since, within `DEAD_REPORTED_FOR`."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OMS_WORKER_STALE_SECONDS)
    beats = list(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - DEAD_REPORTED_FOR)
        .values_list("seen_at", flat=True)
        .order_by("-seen_at")[:1000]
    )
    alive = sum(1 for seen_at in beats if seen_at >= stale)
    return Workers(
        alive=alive,
        dead=len(beats) - alive,
        last_beat_age=(now - beats[0]).total_seconds() if beats else None,
    )


def workers_expected() -> bool:
    """Whether tasks need a worker process (not when they run in process)."""
    return settings.OMS_TASKS_BACKEND != "immediate"


@contextlib.contextmanager
def job_observed(*, task: str, request_id: str | None = None) -> Iterator[None]:
    """Run a job's body: bound to the request id it carried, timed into
    `oms_job_duration_seconds` with its outcome. For engines whose hook wraps
    the job (a Procrastinate middleware); a failure goes to Sentry."""
    started = time.perf_counter()
    status = "failed"
    with request_id_bound(request_id):
        try:
            yield
            status = "successful"
        except BaseException:
            job_error_report()
            raise
        finally:
            job_duration_observe(
                task=task, status=status, seconds=time.perf_counter() - started
            )


# Today's engine tells of a job's start and end by two signals: the request id
# bound at the start is restored at the end (per task result, per thread).
_bound: dict[str, contextlib.ExitStack] = {}


def _task_started(sender, task_result, **kwargs) -> None:
    stack = contextlib.ExitStack()
    # In process (the immediate backend) the request's own id is current;
    # in a worker, the job goes by its own id.
    stack.enter_context(
        request_id_bound(request_id_current() or f"job-{task_result.id}")
    )
    _bound[str(task_result.id)] = stack


def _task_finished(sender, task_result, **kwargs) -> None:
    if task_result.status == TaskResultStatus.FAILED:
        # Sent while the engine handles the job's exception.
        job_error_report()

    if task_result.started_at and task_result.finished_at:
        job_duration_observe(
            task=task_result.task.module_path,
            status=str(task_result.status).lower(),
            seconds=(task_result.finished_at - task_result.started_at).total_seconds(),
        )
    stack = _bound.pop(str(task_result.id), None)
    if stack is not None:
        stack.close()


def job_hooks_install() -> None:
    """Observe every job today's engine runs (called once, `OmsConfig.ready`)."""
    task_started.connect(_task_started, dispatch_uid="oms.health.job_started")
    task_finished.connect(_task_finished, dispatch_uid="oms.health.job_finished")
