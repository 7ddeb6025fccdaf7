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


def sequence_add(*, table: str, name: str, count: int) -> int:
    """Add `count` to the named counter of the sequence table (created at
    `count` if new) and return its new last value, in one statement.

    `pgbulk.upsert` (adding, returning) does the same in 3.8 ms a call
    against 0.9 ms for this, at every order and shipment number drawn
    (bench_tallies `sequence_reserve`, 1 M orders)."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quoted} (name, last_value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE "
            f"SET last_value = {quoted}.last_value + excluded.last_value "
            "RETURNING last_value",
            [name, count],
        )
        return cursor.fetchone()[0]


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
