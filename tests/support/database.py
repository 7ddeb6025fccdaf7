"""The database the tests run on: its URL for the processes a test starts,
and locks held on it from outside."""

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from django.db import connection
from django.db.backends.signals import connection_created


def database_url() -> str:
    """Return DATABASE_URL for the test database (a host or a socket folder)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(
        db["HOST"] or db.get("OPTIONS", {}).get("host") or "127.0.0.1", safe=""
    )
    return f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def lock_timeout(milliseconds: int) -> Iterator[None]:
    """Make this process's database connection give up a lock it waited
    `milliseconds` for (`lock_not_available`, an OperationalError), also when
    Django opens a new one meanwhile: a wait fails the test at once."""

    def each(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(milliseconds)}")

    connection_created.connect(each)
    each(None, connection)
    try:
        yield
    finally:
        connection_created.disconnect(each)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")


@contextmanager
def table_held(model) -> Iterator[None]:
    """Hold an exclusive lock on a model's table from another connection, as
    a long transaction would: whatever reads or writes it waits."""
    with psycopg.connect(database_url()) as other:
        other.execute(
            f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} "
            "IN ACCESS EXCLUSIVE MODE"
        )
        try:
            yield
        finally:
            other.rollback()
