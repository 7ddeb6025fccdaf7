"""The raw SQL of the inventory app, each statement with the benchmark that
keeps it: `tests/bench/bench_stock.py` times every statement here against
its ORM / django-pgbulk version in the same run.

Reserving and releasing stock run while the stock levels' row locks are
held, and other orders for the same goods queue on those locks: each is one
set-based statement where the ORM needs several round trips.
"""

import functools
from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from core.history import history_context
from inventory.models import Allocation, StockLevel

# The field history reasons of a reservation and of a release.
RESERVED = "reserved for orders"
RELEASED = "reservation released"


@functools.cache
def reserve_statements() -> tuple[str, str]:
    """The SQL of `stock_levels_reserve`: the stock levels' UPDATE (their
    field history is written by its trigger), and the same joined with the
    allocation rows' upsert."""
    levels = StockLevel._meta.db_table
    allocations = Allocation._meta.db_table
    stock = (
        f'WITH reserved AS (UPDATE "{levels}" AS level '
        "SET allocated = level.allocated + change.quantity "
        "FROM unnest(%s::bigint[], %s::integer[]) AS change(id, quantity) "
        "WHERE level.id = change.id RETURNING level.id)"
    )
    upsert = (
        f'INSERT INTO "{allocations}" (order_line_id, stock_level_id, quantity, '
        "created_at) SELECT line, level, quantity, %s "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::integer[]) "
        "AS reservation(line, level, quantity) "
        "ON CONFLICT (order_line_id, stock_level_id) DO UPDATE "
        f'SET quantity = "{allocations}".quantity + EXCLUDED.quantity'
    )
    return f"{stock} SELECT count(*) FROM reserved", f"{stock} {upsert}"


def stock_levels_reserve(
    per_level: dict[int, int], per_pair: dict[tuple[int, int], int]
) -> None:
    """Add to `allocated` of the locked stock levels and record their history,
    and add the reservations `per_pair` (a new row per line and level, or more
    on the row the line already holds there), all in one statement.

    Benchmark: `bench_stock.py`, "reserve"."""
    levels = sorted(per_level.items())
    pairs = sorted(per_pair.items())
    now = timezone.now()
    parameters = [[pk for pk, _ in levels], [quantity for _, quantity in levels]]
    stock_only, with_rows = reserve_statements()
    with history_context(reason=RESERVED), connection.cursor() as cursor:
        if not pairs:
            cursor.execute(stock_only, parameters)
            return
        cursor.execute(
            with_rows,
            [
                *parameters,
                now,
                [line for (line, _), _ in pairs],
                [level for (_, level), _ in pairs],
                [quantity for _, quantity in pairs],
            ],
        )


@functools.cache
def release_statement() -> str:
    """The SQL of `allocations_release`."""
    levels = StockLevel._meta.db_table
    allocations = Allocation._meta.db_table
    return (
        f'WITH released AS (DELETE FROM "{allocations}" '
        "WHERE order_line_id = ANY(%s) RETURNING stock_level_id, quantity)"
        ", per_level AS (SELECT stock_level_id AS id, sum(quantity) AS quantity "
        "FROM released GROUP BY stock_level_id)"
        f' UPDATE "{levels}" AS level '
        "SET allocated = level.allocated - per_level.quantity FROM per_level "
        "WHERE level.id = per_level.id"
    )


def allocations_release(order_line_ids: Sequence[int]) -> None:
    """Delete the allocations of these order lines, give their quantities back
    to their (locked) stock levels and record the levels' history, in one
    statement.

    Benchmark: `bench_stock.py`, "release"."""
    with history_context(reason=RELEASED), connection.cursor() as cursor:
        cursor.execute(release_statement(), [list(order_line_ids)])


def foreign_key_check_now(model, field_name: str) -> None:
    """Check the foreign key `field_name` of the rows of `model` written so
    far in this transaction now rather than at the commit (Django makes
    PostgreSQL's foreign keys deferred). Django's own
    `connection.check_constraints()` checks every table, which would take
    share locks on rows other transactions may be waiting to lock.

    Benchmark: `bench_stock.py`, "check_now" (the commit's checks, paid while
    the stock levels are locked, against checking before locking)."""
    field = model._meta.get_field(field_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(conname) FROM pg_constraint WHERE contype = 'f' "
            "AND condeferrable AND conrelid = %s::regclass "
            "AND confrelid = %s::regclass AND conkey = ARRAY[("
            "SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s)]::int2[]",
            [
                model._meta.db_table,
                field.related_model._meta.db_table,
                model._meta.db_table,
                field.column,
            ],
        )
        names = [name for (name,) in cursor.fetchall()]
        if names:
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} DEFERRED")
