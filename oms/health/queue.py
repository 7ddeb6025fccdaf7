"""Everything health and metrics read of the background task engine,
Procrastinate (core.tasks), in one place; the rest of `oms.health`
(readiness, metrics, logs, Sentry) reads only the functions below and their
plain return values:

- `queue_depth()`: jobs waiting and due: `procrastinate_jobs` with
  `status = 'todo'` and `scheduled_at` null or past (its partial index on
  `status = 'todo'` keeps it cheap);
- `oldest_waiting_age()`: seconds the oldest due waiting job has waited since
  it became due: its `scheduled_at` when it has one, else the time of its
  'deferred' event (`procrastinate_events`);
- `worker_heartbeats()`: workers alive and recently dead (with the ids of
  the dead, the Procrastinate worker ids each `manage.py worker` logs at its
  start, so a person can tell which process died), from
  `procrastinate_workers.last_heartbeat` against `OMS_WORKER_STALE_SECONDS`;
- `workers_expected()`: whether a worker must be running at all (not when
  tasks run in process: `OMS_TASKS_BACKEND=immediate`);
- `job_observe`: the sync task middleware (listed in the `OMS_TASK_MIDDLEWARE`
  setting, which `core.worker` and immediate mode read) that observes every
  job: the request id it carried bound while it runs, its duration and
  outcome into `oms_job_duration_seconds`, a failure to Sentry.
"""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

from core.request_id import request_id_bound, request_id_current
from core.tasks import REQUEST_ID_KWARG
from oms.health.sentry import job_error_report
from oms.health.timings import job_duration_observe

# A worker silent past the stale limit is dead; it stays reported (as a
# warning) this long after its last beat, then drops out of the figures.
# Procrastinate deletes the rows of stalled workers when a worker starts
# (and a worker stopping cleanly deletes its own): a dead worker is reported
# until then.
DEAD_REPORTED_FOR = timedelta(hours=1)

# The oldest due waiting job's due time, in one statement on indexes: the
# least scheduled_at among the scheduled due ones, and the 'deferred' event
# of the lowest id among the unscheduled ones (ids grow with deferring time).
# LEAST ignores a NULL side.
_OLDEST_DUE = """
SELECT LEAST(
    (SELECT min(scheduled_at) FROM procrastinate_jobs
      WHERE status = 'todo' AND scheduled_at <= %(now)s),
    (SELECT min(at) FROM procrastinate_events
      WHERE type = 'deferred' AND job_id = (
          SELECT id FROM procrastinate_jobs
           WHERE status = 'todo' AND scheduled_at IS NULL
           ORDER BY id LIMIT 1))
)
"""


@dataclass(frozen=True)
class Workers:
    alive: int
    dead: int
    # Seconds since the most recent beat of any worker (None: no worker).
    last_beat_age: float | None
    # The Procrastinate ids of the dead ones, most recently heard first.
    dead_ids: tuple[str, ...] = ()


def queue_depth() -> int:
    """Return how many jobs wait for a worker, due now."""
    return ProcrastinateJob.objects.filter(
        Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=timezone.now()),
        status="todo",
    ).count()


def oldest_waiting_age() -> float:
    """Return how long (seconds) the oldest due waiting job has waited since it
    became due (0 when none waits)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_OLDEST_DUE, {"now": now})
        (first,) = cursor.fetchone()
    return max(0.0, (now - first).total_seconds()) if first else 0.0


def worker_heartbeats() -> Workers:
    """Return the workers alive (beat within `OMS_WORKER_STALE_SECONDS`) and
    those silent since, within `DEAD_REPORTED_FOR` (while Procrastinate keeps
    their rows)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OMS_WORKER_STALE_SECONDS)
    beats = list(
        ProcrastinateWorker.objects.filter(last_heartbeat__gte=now - DEAD_REPORTED_FOR)
        .values_list("pk", "last_heartbeat")
        .order_by("-last_heartbeat")[:1000]
    )
    dead_ids = tuple(str(pk) for pk, beat in beats if beat < stale)
    return Workers(
        alive=len(beats) - len(dead_ids),
        dead=len(dead_ids),
        last_beat_age=max(0.0, (now - beats[0][1]).total_seconds()) if beats else None,
        dead_ids=dead_ids,
    )


def workers_expected() -> bool:
    """Whether tasks need a worker process (not when they run in process)."""
    return settings.OMS_TASKS_BACKEND != "immediate"


@contextlib.contextmanager
def job_observed(*, task: str, request_id: str | None = None) -> Iterator[None]:
    """Run a job's body: bound to the request id it carried, timed into
    `oms_job_duration_seconds` with its outcome; a failure goes to Sentry."""
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


def job_observe(call_next, context, worker) -> Any:
    """Sync task middleware (`OMS_TASK_MIDDLEWARE`): run the job observed.

    The request id deferring stored in the job's kwargs (`_request_id`,
    core.tasks) is taken out before the task is called (Procrastinate calls it
    with `job.task_kwargs` as they are then); in process (immediate mode) the
    request's own id is current; otherwise the job goes by `job-<id>`."""
    job = context.job
    carried = job.task_kwargs.pop(REQUEST_ID_KWARG, None)
    request_id = (
        carried or request_id_current() or (f"job-{job.id}" if job.id else None)
    )
    with job_observed(task=job.task_name, request_id=request_id):
        return call_next()
