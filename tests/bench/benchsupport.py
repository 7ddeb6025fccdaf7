"""Set-up shared by the benchmark scripts: a throw-away PostgreSQL database."""

import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def bench_django(database: str, keep: bool = False) -> None:
    """Point Django at database `database` on the configured server, migrated:
    a fresh one, or with `keep` the existing one (created if missing)."""
    import dj_database_url
    import psycopg

    url = (
        os.environ.get("DATABASE_URL")
        or os.environ.get("OMS_TEST_DATABASE_URL")
        or DEFAULT_URL
    )
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit(
            "The benchmarks run on PostgreSQL: set DATABASE_URL to a postgres:// URL."
        )
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname=config["NAME"] or "postgres",
        autocommit=True,
    )
    exists = admin.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s", [database]
    ).fetchone()
    if not keep or not exists:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    base = url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    # As every figure in docs/scale-and-speed.md was measured (production-like
    # servers of a benchmark set DEBUG=0 themselves: tests/bench/httpload.py).
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))
