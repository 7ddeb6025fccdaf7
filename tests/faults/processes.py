"""Real `manage.py worker` processes against the test database, for the fault
suite: start them with short heartbeat and stale limits, kill them, and wait
for what the database shows."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.models import WorkerHeartbeat
from tests.support.database import database_url

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_SECONDS = 0.5
STALE_SECONDS = 3.0


class WorkerProcess:
    """One `manage.py worker` subprocess with a known worker id."""

    def __init__(self, worker_id: str, **env: str) -> None:
        self.worker_id = worker_id
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "OMS_FAULT_"))
        }
        handle, name = tempfile.mkstemp(prefix=f"oms-worker-{worker_id}-")
        os.close(handle)
        self.log = Path(name)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--worker-id",
                worker_id,
                "-v0",
            ],
            cwd=ROOT,
            env={
                **clean,
                "DATABASE_URL": database_url(),
                "OMS_TASKS_BACKEND": "database",
                "OMS_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
                "OMS_WORKER_STALE_SECONDS": str(STALE_SECONDS),
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    def wait_started(self) -> None:
        wait_for(
            lambda: (
                self.alive()
                and WorkerHeartbeat.objects.filter(worker_id=self.worker_id).exists()
            ),
            timeout=30,
            what=f"worker {self.worker_id} to beat",
        )

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"worker {self.worker_id} exited with {self.process.returncode}: "
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


@contextmanager
def workers(*specs: tuple[str, dict[str, str]]):
    """Run workers for the block; stop whatever is left of them after it."""
    started: list[WorkerProcess] = []
    try:
        for worker_id, env in specs:
            started.append(WorkerProcess(worker_id, **env))
        for worker in started:
            worker.wait_started()
        yield started
    finally:
        for worker in started:
            worker.stop()


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
