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
