"""The core app's raw SQL: each statement here does what the ORM cannot, or
beat it in a benchmark named in its docstring."""

from datetime import datetime

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


def finished_tasks_delete(*, before: datetime, batch: int) -> int:
    """Delete up to `batch` Procrastinate jobs that ended (succeeded, failed,
    cancelled, aborted) with no event since `before`; return how many went.

    Procrastinate's Django models are read-only, and its own
    `delete_old_jobs` deletes every old job at once, which fails on the
    foreign key from `procrastinate_periodic_defers` (no ON DELETE): the
    latest defer of each periodic task keeps its job, so it is skipped here.
    Events go with their job (ON DELETE CASCADE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM procrastinate_jobs WHERE id IN (
                SELECT job.id FROM procrastinate_jobs job
                WHERE job.status IN ('succeeded', 'failed', 'cancelled', 'aborted')
                  AND NOT EXISTS (
                      SELECT 1 FROM procrastinate_periodic_defers defer
                      WHERE defer.job_id = job.id)
                  AND NOT EXISTS (
                      SELECT 1 FROM procrastinate_events event
                      WHERE event.job_id = job.id AND event.at >= %s)
                ORDER BY job.id
                LIMIT %s
                FOR UPDATE SKIP LOCKED)
            """,
            [before, batch],
        )
        return cursor.rowcount


def rate_window_count(*, key: str, seconds: int) -> int:
    """Count one more request under `key` and return the count of its window,
    opening a new window of `seconds` when there is none or it expired.

    One statement, atomic across processes: concurrent requests of one key
    queue on its row for the statement only. The ORM has no upsert that
    computes the new value from the old one (`update_or_create` is a read
    and a write, and races on the insert)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO core_ratewindow (key, expires, count)
            VALUES (%s, now() + make_interval(secs => %s), 1)
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN core_ratewindow.expires <= now()
                    THEN 1 ELSE core_ratewindow.count + 1 END,
                expires = CASE WHEN core_ratewindow.expires <= now()
                    THEN EXCLUDED.expires ELSE core_ratewindow.expires END
            RETURNING count
            """,
            [key, seconds],
        )
        return cursor.fetchone()[0]


# Procrastinate's `defer_periodic_job` statement, run only while no later
# slot of the task is on record. `procrastinate_periodic_defers` keeps each
# task's latest slot only (deferring one deletes the older), so a slot
# deferred late, by a worker paused or starved between working out its slot
# and deferring it, found no record of itself and was queued a second time
# (tests/faults/test_many.py: a worker SIGSTOPped for 90 s, 1-second
# recovery slots, a busy machine). Procrastinate's API has no such condition.
# CASE calls the (volatile) function only when the check passes.
PERIODIC_DEFER_IF_LATEST = """
SELECT CASE WHEN EXISTS (
    SELECT 1 FROM procrastinate_periodic_defers
     WHERE task_name = %(task_name)s AND periodic_id = %(periodic_id)s
       AND defer_timestamp > %(defer_timestamp)s
) THEN NULL ELSE procrastinate_defer_periodic_job_v2(
    %(queue)s, %(lock)s, %(queueing_lock)s, %(task_name)s, %(priority)s,
    %(periodic_id)s, %(defer_timestamp)s, %(args)s
) END AS id
"""
