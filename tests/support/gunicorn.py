"""gunicorn as production runs it, for the tests that start web processes:
`oms.wsgi:application` with two worker processes on a free port of
localhost, the environment of this process less what must not leak into it,
its log kept in a file (a pipe nobody reads would block it) and read after
it stopped."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def url_wait(
    url: str, headers: dict, seconds: float = 30
) -> urllib.request.http.client.HTTPResponse:
    """Open the URL once the server answers (its port opens before its
    workers have loaded the project); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=5
            )
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


class GunicornProcess:
    """`gunicorn oms.wsgi:application --workers N` on a free port.

    `env` is laid over this process's environment, from which the names
    starting with one of `drop` are left out (the tests' DJANGO_SETTINGS_MODULE
    by default: the server runs the settings a deployment runs). Use as a
    context manager; `log` holds what it wrote to stderr once stopped."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        drop: tuple[str, ...] = ("DJANGO_",),
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = ""
        handle, log_name = tempfile.mkstemp(prefix="oms-gunicorn-")
        os.close(handle)
        self._log_path = Path(log_name)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        with self._log_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "oms.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                ],
                cwd=ROOT,
                env={**clean, **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def stop(self) -> str:
        """Stop the server (SIGTERM: its workers finish their requests); return
        its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log_path.exists():
            self.log = self._log_path.read_text(errors="replace")
            self._log_path.unlink()
        return self.log

    def __enter__(self) -> "GunicornProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
