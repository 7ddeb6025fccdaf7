"""The background worker: Procrastinate's, with the recovery of work whose
worker died.

`python manage.py worker` runs one (`make demo` starts one beside the web
server; run as many as you like, on as many machines, against the one
database). Each process runs two Procrastinate workers in one event loop:
the main one takes every queue, `OMS_WORKER_CONCURRENCY` jobs at a time; a
small one takes only the `recovery` queue, so that recovery runs on time
even while every main worker is busy with a long import.

Every worker beats every `OMS_WORKER_HEARTBEAT_SECONDS` (Procrastinate's
heartbeat in `procrastinate_workers`); one not heard for
`OMS_WORKER_STALE_SECONDS` is dead (killed, out of memory, paused, its
machine gone). The periodic `work_recover` (once per slot, however many
workers run: Procrastinate's periodic deduplication) then

- fails the import and print jobs (`core.jobs.jobs_reap`) the dead worker was
  running, visibly, with a Retry for a person (their effects stay
  exactly-once: `core.jobs` fences every write of a run on its claim);
- puts the Procrastinate jobs the dead worker had fetched back in the queue
  (`get_stalled_jobs`' query, then `retry_job`), up to
  `OMS_TASK_MAX_CLAIMS` claims in all: a job that keeps killing its workers is
  failed instead of taking the next worker down with it.

Worst time to recovery: the stale limit, plus one heartbeat (the last beat
before death), plus one recovery slot (`OMS_WORKER_HEARTBEAT_SECONDS`,
rounded to whole seconds), plus half a second of Procrastinate's periodic
margin.

A worker whose database connection breaks (restart, failover) or whose own
record was removed while it was paused starts again in the same process
after a second, under a new worker id.

A worker defers each periodic task's latest slot only, never the slots it
missed while it was paused (`LatestSlotDeferrer`): the workers that kept
running deferred those, and Procrastinate's record of them is gone by then.
"""

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate import periodic as procrastinate_periodic
from procrastinate import sql as procrastinate_sql
from procrastinate import worker as procrastinate_worker
from procrastinate.contrib.django.django_connector import DjangoConnector

from core.jobs import jobs_reap
from core.tasks import app, job_identity, task_middleware

logger = logging.getLogger("oms.worker")

RECOVERY_QUEUE = "recovery"


def _every_seconds_cron(seconds: float) -> str:
    """A cron line (seconds as Procrastinate's sixth field) for every N s."""
    step = min(59, max(1, round(seconds)))
    return f"* * * * * */{step}"


@dataclass
class RecoveryReport:
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    jobs_failed: int = 0


def stalled_work_recover() -> RecoveryReport:
    """Fail the job rows of dead workers, then queue their stalled Procrastinate
    jobs again (or fail those claimed `OMS_TASK_MAX_CLAIMS` times)."""
    report = RecoveryReport(jobs_failed=jobs_reap())
    connector = DjangoConnector(alias="default")
    stalled = connector.execute_query_all(
        query=procrastinate_sql.queries["select_stalled_jobs_by_heartbeat"],
        queue=None,
        task_name=None,
        seconds_since_heartbeat=settings.OMS_WORKER_STALE_SECONDS,
    )
    for job in stalled:
        # Claims so far: this one plus the retries before it.
        give_up = job["attempts"] + 1 >= settings.OMS_TASK_MAX_CLAIMS
        try:
            with transaction.atomic():
                if give_up:
                    connector.execute_query(
                        query=procrastinate_sql.queries["finish_job"],
                        job_id=job["id"],
                        status="failed",
                        delete_job=False,
                    )
                else:
                    connector.execute_query(
                        query=procrastinate_sql.queries["retry_job"],
                        job_id=job["id"],
                        retry_at=None,  # at once
                        new_priority=None,
                        new_queue_name=None,
                        new_lock=None,
                    )
        except (DatabaseError, procrastinate_exceptions.ConnectorException):
            # Another recovery (or the worker itself, come back) got there first.
            continue
        (report.failed if give_up else report.retried).append(job["id"])
    if report.retried or report.failed or report.jobs_failed:
        logger.warning(
            "Recovered the work of dead workers: %d jobs queued again, %d failed "
            "after %d claims, %d job rows failed",
            len(report.retried),
            len(report.failed),
            settings.OMS_TASK_MAX_CLAIMS,
            report.jobs_failed,
        )
    return report


@app.periodic(
    cron=_every_seconds_cron(settings.OMS_WORKER_HEARTBEAT_SECONDS),
    periodic_id="work-recover",
)
@app.task(queue=RECOVERY_QUEUE, queueing_lock="work-recover")
def work_recover(timestamp: int = 0) -> dict:
    """Periodic: recover the work of dead workers (see the module)."""
    report = stalled_work_recover()
    return {
        "retried": report.retried,
        "failed": report.failed,
        "jobs_failed": report.jobs_failed,
    }


class LatestSlotDeferrer(procrastinate_periodic.PeriodicDeferrer):
    """Procrastinate's periodic deferrer, deferring only each task's latest
    slot, as it does when it starts.

    Procrastinate's catches up on every slot since the last it deferred. In a
    worker paused for a while (SIGSTOP, a VM paused) that is every slot of the
    pause, deferred again when it resumes: the other workers deferred them
    already, but `procrastinate_periodic_defers` keeps only each task's latest
    slot, so nothing stops them (the fault suite's pause of 90 s queued
    `work_recover` slots twice). Periodic tasks here are sweeps: a slot every
    worker missed is made good by the next one. A slot worked out before a
    pause and deferred after it is refused by the database
    (`core.sql.PERIODIC_DEFER_IF_LATEST`).
    """

    def get_timestamps(self, periodic_task, since: int | None, until: float):
        for timestamp in super().get_timestamps(periodic_task, since=None, until=until):
            if timestamp != since:
                yield timestamp


class SteadyWorker(procrastinate_worker.Worker):
    """Procrastinate's worker, whose heartbeat outlives a failed beat and whose
    periodic deferrer defers the latest slots only (`LatestSlotDeferrer`).

    Procrastinate stops a worker when a beat fails (a database blip); the
    jobs it runs would then be declared dead while they still run. This one
    logs the failure and beats again at the next interval: only a worker
    silent for the stale limit is dead.
    """

    async def _periodic_deferrer(self):
        deferrer = LatestSlotDeferrer(
            registry=self.app.periodic_registry, **self.app.periodic_defaults
        )
        return await deferrer.worker()

    async def _update_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.update_heartbeat_interval)
            try:
                await self.app.job_manager.update_heartbeat(self.worker_id)
            except Exception:
                logger.warning(
                    "Worker %s: heartbeat failed; beating again in %s s",
                    self.worker_name,
                    self.update_heartbeat_interval,
                    exc_info=True,
                )


def _new_worker(**options) -> SteadyWorker:
    return SteadyWorker(app=app, **{**app.worker_defaults, **options})


def _worker_options() -> dict:
    middleware = list(app.worker_defaults.get("task_middleware") or [])
    return {
        "install_signal_handlers": False,
        "update_heartbeat_interval": settings.OMS_WORKER_HEARTBEAT_SECONDS,
        "stalled_worker_timeout": settings.OMS_WORKER_STALE_SECONDS,
        "fetch_job_polling_interval": settings.OMS_WORKER_POLL_SECONDS,
        "task_middleware": [*middleware, job_identity, *task_middleware()],
    }


async def _run_once(name: str, queues: list[str] | None, stopping: asyncio.Event):
    """Run the main and the recovery worker until stopped or one of them fails."""
    options = _worker_options()
    main = _new_worker(
        name=name,
        queues=queues,
        concurrency=settings.OMS_WORKER_CONCURRENCY,
        **options,
    )
    recovery = _new_worker(
        name=f"{name}-recovery", queues=[RECOVERY_QUEUE], concurrency=1, **options
    )
    runs = [asyncio.create_task(w.run(), name=w.worker_name) for w in (main, recovery)]
    stop_waiter = asyncio.create_task(stopping.wait())
    while main.worker_id is None and not any(run.done() for run in runs):
        await asyncio.sleep(0.05)
    if main.worker_id is not None:
        logger.info(
            "Worker %s started as Procrastinate worker %s", name, main.worker_id
        )
    await asyncio.wait([*runs, stop_waiter], return_when=asyncio.FIRST_COMPLETED)
    for worker in (main, recovery):
        worker.stop()
    stop_waiter.cancel()
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not stopping.is_set():
            logger.warning("Worker %s failed: %r", name, outcome, exc_info=outcome)


async def workers_run(*, name: str, queues: list[str] | None = None) -> None:
    """Run this process's workers until SIGTERM or SIGINT; start them again
    after a second when one fails (the database went away, say)."""
    # What Procrastinate's own run_worker does: import the modules of
    # PROCRASTINATE_IMPORT_PATHS, so every task is known by name.
    app.perform_import_paths()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    while not stopping.is_set():
        try:
            async with app.open_async():
                await _run_once(name, queues, stopping)
        except Exception:
            logger.warning(
                "Worker %s: could not run; trying again", name, exc_info=True
            )
        if not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
