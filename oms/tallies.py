"""Counts kept by the database, for a dashboard that never counts big tables.

- Orders per hour placed (UTC), channel and status (`OrderTally`).
- Shipments per status and estimated delivery date (`ShipmentTally`): late
  (on the way, past the estimate) and in exception.

Triggers on the order and shipment tables (installed by `tallies_ensure`,
from migration 0003 and after every `migrate`) write the changes of every
insert, update and delete to a change table in the row's own transaction: on
PostgreSQL one row per group and statement, from the statement's transition
tables (a 25,000-order import adds a few hundred rows, a status change two);
on SQLite one row per row changed. Inserts only: concurrent transactions
never wait on a shared counter row.

`tallies_fold` (periodic) moves the changes into the tallies; readers add
the two, so the counts are exact at any moment. `tallies_rebuild` counts
everything again (after a bulk load that bypassed the triggers, like
`seed_scale`).
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import TruncDate
from django_tasks import task

from oms.models import (
    NO_ESTIMATE,
    OrderTally,
    OrderTallyChange,
    ShipmentTally,
    ShipmentTallyChange,
)


@dataclass(frozen=True)
class Tally:
    name: str  # trigger and function names: oms_<name>_...
    source: str  # the counted table
    tally: str
    changes: str
    count: str  # the tally's count column
    keys: tuple[str, ...]  # key columns, in the tally and change tables
    pg: tuple[str, ...]  # SQL of each key from a row {row}, PostgreSQL
    sqlite: tuple[str, ...]  # the same on SQLite
    watched: tuple[str, ...]  # source columns the keys depend on

    def key_sql(self, row: str) -> list[str]:
        patterns = self.pg if connection.vendor == "postgresql" else self.sqlite
        return [pattern.format(row=row) for pattern in patterns]


TALLIES = [
    Tally(
        name="order_tally",
        source="orders_order",
        tally=OrderTally._meta.db_table,
        changes=OrderTallyChange._meta.db_table,
        count="orders",
        keys=("hour", "channel_id", "status"),
        pg=(
            "date_trunc('hour', {row}.placed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
            "{row}.channel_id",
            "{row}.status",
        ),
        sqlite=(
            "strftime('%Y-%m-%d %H:00:00', {row}.placed_at)",
            "{row}.channel_id",
            "{row}.status",
        ),
        watched=("placed_at", "channel_id", "status"),
    ),
    Tally(
        name="shipment_tally",
        source="fulfillment_shipment",
        tally=ShipmentTally._meta.db_table,
        changes=ShipmentTallyChange._meta.db_table,
        count="shipments",
        keys=("status", "estimated_delivery"),
        pg=(
            "{row}.status",
            f"COALESCE({{row}}.estimated_delivery, DATE '{NO_ESTIMATE.isoformat()}')",
        ),
        sqlite=(
            "{row}.status",
            f"COALESCE({{row}}.estimated_delivery, '{NO_ESTIMATE.isoformat()}')",
        ),
        watched=("status", "estimated_delivery"),
    ),
]


def _pg_statements(spec: Tally) -> list[str]:
    keys = ", ".join(spec.keys)
    groups = ", ".join(str(n) for n in range(1, len(spec.keys) + 1))
    new, old = ", ".join(spec.key_sql("n")), ", ".join(spec.key_sql("o"))
    insert = f"INSERT INTO {spec.changes} ({keys}, change)"
    function = f"""
CREATE OR REPLACE FUNCTION oms_{spec.name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {insert} SELECT {new}, count(*) FROM oms_new n GROUP BY {groups};
    ELSIF TG_OP = 'DELETE' THEN
        {insert} SELECT {old}, -count(*) FROM oms_old o GROUP BY {groups};
    ELSE
        {insert} SELECT {keys}, sum(change) FROM (
            SELECT {", ".join(f"{sql} AS {key}" for sql, key in zip(spec.key_sql("n"), spec.keys, strict=True))},
                   1 AS change FROM oms_new n
            UNION ALL
            SELECT {old}, -1 FROM oms_old o
        ) AS moved GROUP BY {groups} HAVING sum(change) <> 0;
    END IF;
    RETURN NULL;
END $$;
"""
    return [
        function,
        f"""CREATE TRIGGER oms_{spec.name}_insert AFTER INSERT ON {spec.source}
            REFERENCING NEW TABLE AS oms_new
            FOR EACH STATEMENT EXECUTE FUNCTION oms_{spec.name}()""",
        f"""CREATE TRIGGER oms_{spec.name}_update AFTER UPDATE ON {spec.source}
            REFERENCING OLD TABLE AS oms_old NEW TABLE AS oms_new
            FOR EACH STATEMENT EXECUTE FUNCTION oms_{spec.name}()""",
        f"""CREATE TRIGGER oms_{spec.name}_delete AFTER DELETE ON {spec.source}
            REFERENCING OLD TABLE AS oms_old
            FOR EACH STATEMENT EXECUTE FUNCTION oms_{spec.name}()""",
    ]


def _sqlite_statements(spec: Tally) -> list[str]:
    keys = ", ".join(spec.keys)

    def add(row: str, sign: str) -> str:
        values = ", ".join(spec.key_sql(row))
        return (
            f"INSERT INTO {spec.changes} ({keys}, change) VALUES ({values}, {sign}1);"
        )

    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in spec.watched)
    return [
        f"""CREATE TRIGGER oms_{spec.name}_insert AFTER INSERT ON {spec.source}
            BEGIN {add("NEW", "")} END""",
        f"""CREATE TRIGGER oms_{spec.name}_update
            AFTER UPDATE OF {", ".join(spec.watched)} ON {spec.source}
            WHEN {changed}
            BEGIN {add("OLD", "-")} {add("NEW", "")} END""",
        f"""CREATE TRIGGER oms_{spec.name}_delete AFTER DELETE ON {spec.source}
            BEGIN {add("OLD", "-")} END""",
    ]


def _drop_statements(spec: Tally) -> list[str]:
    on = f" ON {spec.source}" if connection.vendor == "postgresql" else ""
    drops = [
        f"DROP TRIGGER IF EXISTS oms_{spec.name}_{event}{on}"
        for event in ("insert", "update", "delete")
    ]
    if connection.vendor == "postgresql":
        drops.append(f"DROP FUNCTION IF EXISTS oms_{spec.name}()")
    return drops


def _trigger_names(spec: Tally) -> set[str]:
    return {f"oms_{spec.name}_{event}" for event in ("insert", "update", "delete")}


def _triggers_present(cursor, spec: Tally) -> set[str]:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [spec.source]
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [spec.source],
        )
    return {name for (name,) in cursor.fetchall()} & _trigger_names(spec)


def tallies_ensure() -> list[str]:
    """Install the triggers of each tally that misses one and count its table
    again; returns the tallies it did. Run by migration 0003 and after every
    `migrate`: SQLite drops a table's triggers when a migration rebuilds it."""
    if connection.vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"The tallies have no triggers for {connection.vendor}.")
    tables = set(connection.introspection.table_names())
    done = []
    for spec in TALLIES:
        if not {spec.source, spec.tally, spec.changes} <= tables:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            if _triggers_present(cursor, spec) == _trigger_names(spec):
                continue
            statements = (
                _pg_statements(spec)
                if connection.vendor == "postgresql"
                else _sqlite_statements(spec)
            )
            for statement in [*_drop_statements(spec), *statements]:
                cursor.execute(statement)
            _rebuild(cursor, spec)
        done.append(spec.name)
    return done


def tallies_remove_triggers(*, names: list[str] | None = None) -> None:
    with connection.cursor() as cursor:
        for spec in TALLIES:
            if names is not None and spec.name not in names:
                continue
            for statement in _drop_statements(spec):
                cursor.execute(statement)


def _rebuild(cursor, spec: Tally) -> None:
    if connection.vendor == "postgresql":
        cursor.execute(f"LOCK TABLE {spec.source} IN SHARE MODE")
    cursor.execute(f"DELETE FROM {spec.changes}")
    cursor.execute(f"DELETE FROM {spec.tally}")
    groups = ", ".join(str(n) for n in range(1, len(spec.keys) + 1))
    cursor.execute(
        f"INSERT INTO {spec.tally} ({', '.join(spec.keys)}, {spec.count}) "
        f"SELECT {', '.join(spec.key_sql(spec.source))}, count(*) "
        f"FROM {spec.source} GROUP BY {groups}"
    )


@transaction.atomic
def tallies_rebuild() -> None:
    """Count every order and shipment again (their tables are locked against
    writes meanwhile)."""
    with connection.cursor() as cursor:
        for spec in TALLIES:
            _rebuild(cursor, spec)


@task()
def tallies_fold() -> int:
    """Periodic (`OMS_PERIODIC_TASKS`): add the changes into the tallies."""
    return tallies_fold_now()


@transaction.atomic
def tallies_fold_now() -> int:
    """Move the pending changes into the tallies; returns how many were moved."""
    moved = 0
    with connection.cursor() as cursor:
        for spec in TALLIES:
            keys = ", ".join(spec.keys)
            upsert = (
                f"INSERT INTO {spec.tally} ({keys}, {spec.count}) "
                f"SELECT {keys}, SUM(change) FROM {{source}} GROUP BY {keys} "
                f"ON CONFLICT ({keys}) DO UPDATE "
                f"SET {spec.count} = {spec.tally}.{spec.count} + excluded.{spec.count}"
            )
            if connection.vendor == "postgresql":
                # Exactly the rows it deletes are added: a change committed
                # meanwhile stays for the next fold.
                cursor.execute(
                    f"WITH moved AS (DELETE FROM {spec.changes} "
                    f"RETURNING {keys}, change) " + upsert.format(source="moved")
                )
                moved += cursor.rowcount
            else:  # SQLite: writers are serialised, the transaction sees one state.
                cursor.execute(f"SELECT COUNT(*), MAX(id) FROM {spec.changes}")
                count, last = cursor.fetchone()
                if not count:
                    continue
                cursor.execute(
                    upsert.format(source=f"{spec.changes} WHERE id <= %s"), [last]
                )
                cursor.execute(f"DELETE FROM {spec.changes} WHERE id <= %s", [last])
                moved += count
            cursor.execute(f"DELETE FROM {spec.tally} WHERE {spec.count} = 0")
    return moved


def _sum(folded, pending, *keys: str) -> dict:
    """Add the folded counts and the pending changes (one query)."""
    parts = [
        queryset.values_list(*keys).annotate(n=Sum(column)).order_by()
        for queryset, column in ((folded[0], folded[1]), (pending, "change"))
    ]
    counts: dict = {}
    for *key, n in parts[0].union(parts[1], all=True):
        key = key[0] if len(key) == 1 else tuple(key)
        counts[key] = counts.get(key, 0) + n
    return counts


def order_counts_by_status(statuses: list[str]) -> dict[str, int]:
    """Exact number of orders in each status (one query)."""
    counts = _sum(
        (OrderTally.objects.filter(status__in=statuses), "orders"),
        OrderTallyChange.objects.filter(status__in=statuses),
        "status",
    )
    return {status: counts.get(status, 0) for status in statuses}


def order_counts_by_day(since: datetime) -> dict[tuple, int]:
    """Exact number of orders placed since `since` per (local day, channel id),
    one query. Days are in the current time zone (whole-hour offsets)."""
    return _sum(
        (
            OrderTally.objects.filter(hour__gte=since).annotate(day=TruncDate("hour")),
            "orders",
        ),
        OrderTallyChange.objects.filter(hour__gte=since).annotate(
            day=TruncDate("hour")
        ),
        "day",
        "channel_id",
    )


def shipment_counts(*, on_the_way: list[str], problem: str, today: date) -> dict:
    """Exact numbers of shipments late (on the way, past their estimate) and
    in `problem` status (one query)."""
    late = Q(status__in=on_the_way, estimated_delivery__lt=today) & ~Q(
        estimated_delivery=NO_ESTIMATE
    )
    flag = Q(status=problem)
    counts = _sum(
        (ShipmentTally.objects.filter(late | flag), "shipments"),
        ShipmentTallyChange.objects.filter(late | flag),
        "status",
    )
    return {
        "late": sum(n for status, n in counts.items() if status in on_the_way),
        "exceptions": counts.get(problem, 0),
    }
