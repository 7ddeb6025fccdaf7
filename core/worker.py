"""The background worker: django-tasks-db's database worker with a heartbeat,
a reaper for work whose worker died, and periodic tasks.

`python manage.py worker` runs one (`make demo` starts one beside the web
server). Every worker beats every `OMS_WORKER_HEARTBEAT_SECONDS`; a worker
not seen for `OMS_WORKER_STALE_SECONDS` is dead (killed, out of memory, its
machine gone). Any living worker then

- puts the tasks the dead one had claimed back in the queue, up to
  `OMS_TASK_MAX_CLAIMS` claims in all; a task that keeps killing its workers
  is failed instead of taking the next worker down with it;
- calls the `OMS_REAPERS` (dotted paths), which fail the import and print
  jobs the dead worker was running, visibly, with a Retry for a person;
- enqueues the periodic tasks of `OMS_PERIODIC_TASKS` whose time has come,
  each slot exactly once however many workers beat (`ScheduleSlot`).

The worst time to recovery is the stale limit plus one beat.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from core.locks import lock_running_task
from core.models import ScheduleSlot, WorkerHeartbeat

logger = logging.getLogger("oms.worker")

RUNNING = "RUNNING"
READY = "READY"

# The id of the worker this process is, while it runs a task (None elsewhere:
# a web request, a management command, the in-process task backend).
_current = threading.local()


class WorkerLost(Exception):
    """The worker running a task stopped answering; recorded on the task."""


def current_worker_id() -> str | None:
    """Return the id of the worker running the current task, if any."""
    return getattr(_current, "worker_id", None)


def current_task_id() -> str | None:
    """Return the id of the queued task this worker is running, if any."""
    return getattr(_current, "task_id", None)


def stale_before(now: datetime | None = None) -> datetime:
    """Return the moment before which a silent worker counts as dead."""
    return (now or timezone.now()) - timedelta(
        seconds=settings.OMS_WORKER_STALE_SECONDS
    )


def workers_alive(now: datetime | None = None) -> set[str]:
    """Return the ids of the workers seen within the stale limit."""
    return set(
        WorkerHeartbeat.objects.filter(seen_at__gte=stale_before(now)).values_list(
            "worker_id", flat=True
        )
    )


def worker_beat(*, worker_id: str, started_at: datetime) -> None:
    """Record that this worker is alive now."""
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "seen_at": timezone.now(),
        },
    )


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    jobs_failed: int = 0


def tasks_reap(*, now: datetime | None = None, me: str | None = None) -> ReapReport:
    """Take up again, or fail, the tasks claimed by workers that died.

    `me` is the worker calling: alive, whatever its last beat on record says
    (a beat delayed by a busy machine must not make a worker reap itself).
    """
    now = now or timezone.now()
    alive = workers_alive(now) | ({me} if me else set())
    report = ReapReport()
    candidates = DBTaskResult.objects.filter(status=RUNNING).values_list(
        "pk", "worker_ids"
    )
    for pk, worker_ids in candidates:
        if worker_ids and worker_ids[-1] in alive:
            continue
        with transaction.atomic():
            task = lock_running_task(pk=pk, running_status=RUNNING)
            if task is None or (task.worker_ids and task.worker_ids[-1] in alive):
                continue
            if task.started_at and task.started_at > stale_before(now):
                # Claimed moments ago by a worker whose first beat is on its way.
                continue
            if len(task.worker_ids) >= settings.OMS_TASK_MAX_CLAIMS:
                task.set_failed(
                    WorkerLost(
                        f"{len(task.worker_ids)} workers stopped while running "
                        "this task; it is not tried again."
                    )
                )
                report.failed.append(str(pk))
            else:
                DBTaskResult.objects.filter(pk=pk).update(status=READY, started_at=None)
                report.requeued.append(str(pk))
    for path in settings.OMS_REAPERS:
        report.jobs_failed += import_string(path)(alive=alive, now=now)
    if report.requeued or report.failed or report.jobs_failed:
        logger.warning(
            "Reaped work of dead workers: %d tasks queued again, %d failed, "
            "%d jobs failed",
            len(report.requeued),
            len(report.failed),
            report.jobs_failed,
        )
    return report


def periodic_enqueue(*, now: datetime | None = None) -> list[str]:
    """Enqueue each periodic task whose slot has come, once per slot."""
    now = now or timezone.now()
    started = []
    for path, every_seconds in settings.OMS_PERIODIC_TASKS:
        slot = int(now.timestamp() // every_seconds)
        try:
            with transaction.atomic():
                ScheduleSlot.objects.create(name=path[:100], slot=slot)
        except IntegrityError:
            continue
        import_string(path).enqueue()
        started.append(path)
    return started


def schedule_prune(*, now: datetime | None = None) -> int:
    """Forget schedule slots older than a day."""
    old = (now or timezone.now()) - timedelta(days=1)
    return ScheduleSlot.objects.filter(created_at__lt=old).delete()[0]


class Pulse(threading.Thread):
    """Beats for its worker and runs the reaper and the schedule."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name=f"pulse-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.started_at = timezone.now()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while True:
                self.pulse()
                if self.stopping.wait(settings.OMS_WORKER_HEARTBEAT_SECONDS):
                    break
        finally:
            connections.close_all()

    def pulse(self) -> None:
        try:
            worker_beat(worker_id=self.worker_id, started_at=self.started_at)
            tasks_reap(me=self.worker_id)
            periodic_enqueue()
        except Exception:
            # A database hiccup must not stop the beat; the next one tries again.
            logger.exception("Worker %s: heartbeat failed", self.worker_id)
            connections.close_all()


class BeatingWorker(Worker):
    """django-tasks-db's worker, alive on record while it runs."""

    def run(self) -> None:
        pulse = Pulse(self.worker_id)
        pulse.start()
        try:
            while True:
                try:
                    super().run()
                    return
                except (OperationalError, InterfaceError):
                    # The database is down or restarting: wait for it rather
                    # than exit, and take up the queue where it is then.
                    logger.warning(
                        "Worker %s: the database is unreachable; trying again",
                        self.worker_id,
                        exc_info=True,
                    )
                    connections.close_all()
                    time.sleep(max(self.interval, 1.0))
        finally:
            pulse.stopping.set()
            pulse.join(timeout=5)
            with contextlib.suppress(OperationalError, InterfaceError):
                WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        _current.worker_id = self.worker_id
        _current.task_id = str(db_task_result.pk)
        try:
            super().run_task(db_task_result)
        except (OperationalError, InterfaceError) as error:
            # The database connection died under the task (restart, failover,
            # pg_terminate_backend); record the failure on a new connection.
            connections.close_all()
            logger.warning("Task %s lost its database connection", db_task_result.pk)
            db_task_result.set_failed(error)
        finally:
            _current.worker_id = None
            _current.task_id = None
