"""Order counts kept by the database: per hour placed (UTC), channel and status.

Triggers on the order table (installed by `tallies_install_triggers`, from
migration 0003) write the changes of every insert, update and delete to
`OrderTallyChange` in the order's own transaction: on PostgreSQL one row per
(hour, channel, status) and statement, from the statement's transition
tables (a 25,000-order import adds a few hundred rows, a status change two);
on SQLite one row per order and change. Inserts only: concurrent
transactions never wait on a shared counter row.

`tallies_fold` (periodic) moves the changes into `OrderTally`; readers add
the two, so the counts are exact at any moment. `tallies_rebuild` counts
everything again from the orders (after a bulk load that bypassed the
triggers, like `seed_scale`).
"""

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django_tasks import task

from oms.models import OrderTally, OrderTallyChange

ORDERS = "orders_order"
TALLY = OrderTally._meta.db_table
CHANGES = OrderTallyChange._meta.db_table

_PG_HOUR = "date_trunc('hour', {row}.placed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION oms_order_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {CHANGES} (hour, channel_id, status, change)
        SELECT {_PG_HOUR.format(row="n")}, n.channel_id, n.status, count(*)
        FROM oms_new n GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {CHANGES} (hour, channel_id, status, change)
        SELECT {_PG_HOUR.format(row="o")}, o.channel_id, o.status, -count(*)
        FROM oms_old o GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO {CHANGES} (hour, channel_id, status, change)
        SELECT hour, channel_id, status, sum(change) FROM (
            SELECT {_PG_HOUR.format(row="n")} AS hour, n.channel_id, n.status,
                   1 AS change FROM oms_new n
            UNION ALL
            SELECT {_PG_HOUR.format(row="o")}, o.channel_id, o.status, -1
            FROM oms_old o
        ) AS moved GROUP BY 1, 2, 3 HAVING sum(change) <> 0;
    END IF;
    RETURN NULL;
END $$;
"""
_PG_TRIGGERS = [
    _PG_FUNCTION,
    f"""CREATE TRIGGER oms_order_tally_insert AFTER INSERT ON {ORDERS}
        REFERENCING NEW TABLE AS oms_new
        FOR EACH STATEMENT EXECUTE FUNCTION oms_order_tally()""",
    f"""CREATE TRIGGER oms_order_tally_update AFTER UPDATE ON {ORDERS}
        REFERENCING OLD TABLE AS oms_old NEW TABLE AS oms_new
        FOR EACH STATEMENT EXECUTE FUNCTION oms_order_tally()""",
    f"""CREATE TRIGGER oms_order_tally_delete AFTER DELETE ON {ORDERS}
        REFERENCING OLD TABLE AS oms_old
        FOR EACH STATEMENT EXECUTE FUNCTION oms_order_tally()""",
]
_PG_DROP = [
    f"DROP TRIGGER IF EXISTS oms_order_tally_insert ON {ORDERS}",
    f"DROP TRIGGER IF EXISTS oms_order_tally_update ON {ORDERS}",
    f"DROP TRIGGER IF EXISTS oms_order_tally_delete ON {ORDERS}",
    "DROP FUNCTION IF EXISTS oms_order_tally()",
]

_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00', {row}.placed_at)"
_SQLITE_ADD = (
    f"INSERT INTO {CHANGES} (hour, channel_id, status, change) "
    "VALUES (" + _SQLITE_HOUR + ", {row}.channel_id, {row}.status, {sign}1);"
)
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER oms_order_tally_insert AFTER INSERT ON {ORDERS}
        BEGIN {_SQLITE_ADD.format(row="NEW", sign="")} END""",
    f"""CREATE TRIGGER oms_order_tally_update
        AFTER UPDATE OF status, placed_at, channel_id ON {ORDERS}
        WHEN OLD.status IS NOT NEW.status OR OLD.placed_at IS NOT NEW.placed_at
             OR OLD.channel_id IS NOT NEW.channel_id
        BEGIN {_SQLITE_ADD.format(row="OLD", sign="-")}
              {_SQLITE_ADD.format(row="NEW", sign="")} END""",
    f"""CREATE TRIGGER oms_order_tally_delete AFTER DELETE ON {ORDERS}
        BEGIN {_SQLITE_ADD.format(row="OLD", sign="-")} END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS oms_order_tally_insert",
    "DROP TRIGGER IF EXISTS oms_order_tally_update",
    "DROP TRIGGER IF EXISTS oms_order_tally_delete",
]


def _hour_sql(row: str) -> str:
    pattern = _PG_HOUR if connection.vendor == "postgresql" else _SQLITE_HOUR
    return pattern.format(row=row)


TRIGGERS = [
    "oms_order_tally_insert",
    "oms_order_tally_update",
    "oms_order_tally_delete",
]


def _triggers_present(cursor) -> set[str]:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [ORDERS]
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [ORDERS],
        )
    return {name for (name,) in cursor.fetchall()} & set(TRIGGERS)


def tallies_ensure() -> bool:
    """Install the triggers if any is missing and count the orders again;
    True if it did. Run by migration 0003 and after every `migrate`: SQLite
    loses a table's triggers when a migration rebuilds the table."""
    if connection.vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"Order tallies have no triggers for {connection.vendor}.")
    tables = connection.introspection.table_names()
    if ORDERS not in tables or TALLY not in tables:
        return False
    with transaction.atomic(), connection.cursor() as cursor:
        if _triggers_present(cursor) == set(TRIGGERS):
            return False
        if connection.vendor == "postgresql":
            statements = [*_PG_DROP, *_PG_TRIGGERS]
        else:
            statements = [*_SQLITE_DROP, *_SQLITE_TRIGGERS]
        for statement in statements:
            cursor.execute(statement)
        tallies_rebuild()
    return True


def tallies_remove_triggers() -> None:
    with connection.cursor() as cursor:
        for statement in (
            _PG_DROP if connection.vendor == "postgresql" else _SQLITE_DROP
        ):
            cursor.execute(statement)


@transaction.atomic
def tallies_rebuild() -> int:
    """Count every order again (the orders are locked against writes meanwhile);
    returns the number of tally rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {ORDERS} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {CHANGES}")
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(
            f"INSERT INTO {TALLY} (hour, channel_id, status, orders) "
            f"SELECT {_hour_sql(ORDERS)}, channel_id, status, count(*) "
            f"FROM {ORDERS} GROUP BY 1, 2, 3"
        )
        return cursor.rowcount


@task()
def tallies_fold() -> int:
    """Periodic (`OMS_PERIODIC_TASKS`): add the changes into the tallies."""
    return tallies_fold_now()


@transaction.atomic
def tallies_fold_now() -> int:
    """Move the pending changes into the tallies; returns how many were moved."""
    upsert = (
        f"INSERT INTO {TALLY} (hour, channel_id, status, orders) "
        "SELECT hour, channel_id, status, SUM(change) FROM {source} "
        "GROUP BY hour, channel_id, status "
        "ON CONFLICT (hour, channel_id, status) "
        f"DO UPDATE SET orders = {TALLY}.orders + excluded.orders"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Exactly the rows it deletes are added: a change committed
            # meanwhile stays for the next fold.
            cursor.execute(
                f"WITH moved AS (DELETE FROM {CHANGES} "
                "RETURNING hour, channel_id, status, change) "
                + upsert.format(source="moved")
            )
        else:  # SQLite: writers are serialised, the transaction sees one state.
            cursor.execute(f"SELECT COUNT(*), MAX(id) FROM {CHANGES}")
            count, last = cursor.fetchone()
            if not count:
                return 0
            cursor.execute(upsert.format(source=f"{CHANGES} WHERE id <= %s"), [last])
            cursor.execute(f"DELETE FROM {CHANGES} WHERE id <= %s", [last])
        moved = cursor.rowcount
        cursor.execute(f"DELETE FROM {TALLY} WHERE orders = 0")
    return moved


def order_counts_by_status(statuses: list[str]) -> dict[str, int]:
    """Exact number of orders in each status (one query)."""
    folded = (
        OrderTally.objects.filter(status__in=statuses)
        .values_list("status")
        .annotate(n=Sum("orders"))
        .order_by()
    )
    pending = (
        OrderTallyChange.objects.filter(status__in=statuses)
        .values_list("status")
        .annotate(n=Sum("change"))
        .order_by()
    )
    counts = dict.fromkeys(statuses, 0)
    for status, n in folded.union(pending, all=True):
        counts[status] += n
    return counts


def order_counts_by_day(since: datetime) -> dict[tuple, int]:
    """Exact number of orders placed since `since` per (local day, channel id),
    one query. Days are in the current time zone (whole-hour offsets)."""
    folded = (
        OrderTally.objects.filter(hour__gte=since)
        .annotate(day=TruncDate("hour"))
        .values_list("day", "channel_id")
        .annotate(n=Sum("orders"))
        .order_by()
    )
    pending = (
        OrderTallyChange.objects.filter(hour__gte=since)
        .annotate(day=TruncDate("hour"))
        .values_list("day", "channel_id")
        .annotate(n=Sum("change"))
        .order_by()
    )
    counts: dict[tuple, int] = {}
    for day, channel_id, n in folded.union(pending, all=True):
        counts[day, channel_id] = counts.get((day, channel_id), 0) + n
    return counts
