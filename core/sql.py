"""The core app's raw SQL: each statement here does what the ORM cannot, or
beat it in a benchmark named in its docstring."""

from django.db import connection


def table_row_estimate(table: str) -> int:
    """Return PostgreSQL's own estimate of a table's rows (kept by ANALYZE
    and autovacuum), without reading the table.

    The ORM can only count: `count()` reads every row's index entry
    (bench_admin `row_count`: `Order.objects.count()` against this, at 1 M
    and 10 M orders)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def sequence_next(*, sequence: str, count: int) -> list[int]:
    """Draw the next `count` values of a PostgreSQL sequence, in one
    statement, ascending.

    `nextval` takes no lock that lasts: a transaction that drew numbers
    (a 100,000-line import) keeps no one else waiting for theirs, and
    numbers drawn by a transaction that rolls back stay unused. The ORM has
    no sequence API (bench_numbers: an API order's answer time while an
    import runs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
            [sequence, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def history_context_set(*, context_id: str, metadata_json: str) -> None:
    """Set pghistory's context for the rest of the transaction, for a statement
    that does not pass through Django's cursor wrapper (COPY), where
    pghistory's own statement prefix cannot reach. No ORM equivalent."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_id', %s, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [context_id, metadata_json],
        )
