"""Real `manage.py worker` processes against the test database, for the fault
suite: start them with short heartbeat and stale limits, kill them, and wait
for what the database shows."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.database import database_url

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_SECONDS = 0.5
STALE_SECONDS = 3.0


def with_application_name(url: str, name: str) -> str:
    """The database URL with `application_name` set (dj-database-url passes
    it on to PostgreSQL)."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


class WorkerProcess:
    """One `manage.py worker` subprocess with a known name; `worker_id` is the
    Procrastinate worker id it registered as (what job rows record)."""

    def __init__(self, name: str, **env: str) -> None:
        self.name = name
        self.application_name = f"oms-worker-{name}"
        self.worker_id = ""
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "OMS_FAULT_"))
        }
        handle, log_name = tempfile.mkstemp(prefix=f"oms-worker-{name}-")
        os.close(handle)
        self.log = Path(log_name)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "worker",
                "--name",
                name,
            ],
            cwd=ROOT,
            env={
                **clean,
                # Named in pg_stat_activity, so a test can cut this worker's
                # connection alone (never another test's).
                "DATABASE_URL": with_application_name(
                    database_url(), self.application_name
                ),
                "OMS_TASKS_BACKEND": "database",
                "OMS_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
                "OMS_WORKER_STALE_SECONDS": str(STALE_SECONDS),
                "OMS_WORKER_POLL_SECONDS": "0.1",
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    def registered_id(self) -> str:
        """The Procrastinate worker id it last started as ("" before that)."""
        found = re.findall(
            rf"Worker {re.escape(self.name)} started as Procrastinate worker (\d+)",
            self.log.read_text(errors="replace"),
        )
        return found[-1] if found else ""

    def wait_started(self) -> None:
        from core.tasks import workers_alive

        def beating() -> bool:
            self.alive()
            self.worker_id = self.registered_id()
            return bool(self.worker_id) and self.worker_id in workers_alive()

        wait_for(beating, timeout=60, what=f"worker {self.name} to beat")

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"worker {self.name} exited with {self.process.returncode}: "
                f"{self.log.read_text(errors='replace')[-2000:]}"
            )
        return True

    def kill(self) -> float:
        """SIGKILL the worker (no clean-up, like the OOM killer); return when."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return time.monotonic()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.unlink(missing_ok=True)


def queue_forget() -> None:
    """Empty Procrastinate's tables: what earlier tests queued (their rows are
    not Django's to flush) must not run in this test's workers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_jobs, procrastinate_workers CASCADE"
        )


@contextmanager
def workers(*specs: tuple[str, dict[str, str]]):
    """Run workers for the block; stop whatever is left of them after it."""
    started: list[WorkerProcess] = []
    try:
        for name, env in specs:
            started.append(WorkerProcess(name, **env))
        for worker in started:
            worker.wait_started()
        yield started
    finally:
        for worker in started:
            worker.stop()
        queue_forget()


def wait_for(
    condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1
) -> Any:
    """Poll until the condition is true; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
