"""Benchmark: the raw SQL of `inventory/sql.py` against its ORM versions.

Each statement runs while the stock levels' row locks are held, so its time
is time other orders for the same goods wait. In one run, on the same rows,
each version is timed inside a transaction that is rolled back:

- reserve: `sql.stock_levels_reserve` (one statement: the levels' UPDATE,
  their history and the allocation rows' upsert) against django-pgbulk
  (`pgbulk.update` of the locked levels + `pgbulk.upsert` of the rows) and
  against the ORM (`update()` with `F() + Case/When` + `pgbulk.upsert`);
- release: `sql.allocations_release` (one statement) against the ORM (sum
  per level, `delete()`, `update()` with `Case/When`) and against the ORM
  with `pgbulk.update`;
- check_now: `sql.foreign_key_check_now` on an import chunk's allocation
  rows: the time the commit would otherwise spend checking them with the
  stock levels locked (Django's `check_constraints()` checks every table).

The stock levels' field history is written by their pghistory trigger
whichever version updates them. Prints JSON: median milliseconds per call
and ORM / raw ratios.

    python tests/bench/bench_stock.py [--repeat 60] [--database oms_bench_stock]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

# Orders per batch: one order, an allocation batch, an import chunk.
BATCHES = (1, 25, 500)


def reserve_orm(per_level, per_pair, levels):
    from django.db.models import Case, F, IntegerField, Value, When

    from inventory.models import StockLevel

    StockLevel.objects.filter(pk__in=per_level).update(
        allocated=F("allocated")
        + Case(
            *(When(pk=pk, then=Value(quantity)) for pk, quantity in per_level.items()),
            output_field=IntegerField(),
        )
    )
    allocations_upsert(per_pair)


def reserve_pgbulk(per_level, per_pair, levels):
    import pgbulk

    from inventory.models import StockLevel

    pgbulk.update(
        StockLevel,
        [
            StockLevel(pk=pk, allocated=levels[pk].allocated + quantity)
            for pk, quantity in sorted(per_level.items())
        ],
        ["allocated"],
    )
    allocations_upsert(per_pair)


def allocations_upsert(per_pair):
    import pgbulk
    from django.db.models import F
    from django.db.models.expressions import RawSQL

    from inventory.models import Allocation

    pgbulk.upsert(
        Allocation,
        [
            Allocation(order_line_id=line, stock_level_id=level, quantity=quantity)
            for (line, level), quantity in sorted(per_pair.items())
        ],
        ["order_line", "stock_level"],
        [
            pgbulk.UpdateField(
                "quantity", expression=F("quantity") + RawSQL("EXCLUDED.quantity", [])
            )
        ],
    )


def reserve_raw(per_level, per_pair, levels):
    from inventory import sql

    sql.stock_levels_reserve(per_level, per_pair)


def release_orm(line_ids, levels, *, bulk: bool):
    import pgbulk
    from django.db.models import Case, F, IntegerField, Sum, Value, When

    from inventory.models import Allocation, StockLevel

    held = Allocation.objects.filter(order_line_id__in=line_ids)
    per_level = dict(
        held.order_by().values_list("stock_level_id").annotate(Sum("quantity"))
    )
    held.delete()
    if bulk:
        pgbulk.update(
            StockLevel,
            [
                StockLevel(pk=pk, allocated=levels[pk].allocated - quantity)
                for pk, quantity in sorted(per_level.items())
            ],
            ["allocated"],
        )
        return
    StockLevel.objects.filter(pk__in=per_level).update(
        allocated=F("allocated")
        - Case(
            *(When(pk=pk, then=Value(quantity)) for pk, quantity in per_level.items()),
            output_field=IntegerField(),
        )
    )


def release_raw(line_ids, levels):
    from inventory import sql

    sql.allocations_release(line_ids)


def timed(function, *arguments, **keywords) -> float:
    started = time.perf_counter()
    function(*arguments, **keywords)
    return (time.perf_counter() - started) * 1000


def batches(size: int, lines: list[tuple[int, int]], level_of: dict[int, int]):
    """Successive batches of `size` orders' lines as reservations."""
    by_order: dict[int, list[tuple[int, int]]] = {}
    for order_id, line_id, product_id, quantity in lines:
        by_order.setdefault(order_id, []).append(
            (line_id, level_of[product_id], quantity)
        )
    orders = list(by_order.values())
    for start in range(0, len(orders) - size + 1, size):
        yield [pick for order in orders[start : start + size] for pick in order]


def measure(repeat: int) -> dict:
    from django.db import transaction
    from django.db.models import F

    from inventory import sql
    from inventory.locks import lock_stock_levels_by_pk
    from inventory.models import Allocation, StockLevel
    from orders.models import OrderLine

    StockLevel.objects.update(on_hand=F("on_hand") + 1_000_000)
    level_of = dict(
        StockLevel.objects.order_by("product_id", "pk")
        .distinct("product_id")
        .values_list("product_id", "pk")
    )
    lines = list(
        OrderLine.objects.order_by("order_id", "pk").values_list(
            "order_id", "pk", "product_id", "quantity"
        )
    )
    results: dict = {}
    for size in BATCHES:
        timings: dict[str, list[float]] = {
            name: []
            for name in (
                "reserve_raw",
                "reserve_pgbulk",
                "reserve_orm",
                "release_raw",
                "release_pgbulk",
                "release_orm",
            )
        }
        picks_per_batch = []
        for picks in list(batches(size, lines, level_of))[:repeat]:
            picks_per_batch.append(len(picks))
            per_level: dict[int, int] = {}
            per_pair: dict[tuple[int, int], int] = {}
            for line_id, level_pk, quantity in picks:
                per_level[level_pk] = per_level.get(level_pk, 0) + quantity
                per_pair[line_id, level_pk] = quantity
            line_ids = sorted({line_id for line_id, _, _ in picks})
            for name, reserve in (
                ("raw", reserve_raw),
                ("pgbulk", reserve_pgbulk),
                ("orm", reserve_orm),
            ):
                with transaction.atomic():
                    levels = lock_stock_levels_by_pk(per_level)
                    timings[f"reserve_{name}"].append(
                        timed(reserve, per_level, per_pair, levels)
                    )
                    transaction.set_rollback(True)
            for name, release in (
                ("raw", release_raw),
                ("pgbulk", lambda ids, lv: release_orm(ids, lv, bulk=True)),
                ("orm", lambda ids, lv: release_orm(ids, lv, bulk=False)),
            ):
                with transaction.atomic():
                    sql.stock_levels_reserve(per_level, per_pair)
                    levels = lock_stock_levels_by_pk(per_level)
                    timings[f"release_{name}"].append(timed(release, line_ids, levels))
                    transaction.set_rollback(True)
        median = {name: statistics.median(values) for name, values in timings.items()}
        results[f"orders_{size}"] = {
            "calls": len(picks_per_batch),
            "rows": round(statistics.mean(picks_per_batch)),
            **{f"{name}_ms": round(value, 3) for name, value in median.items()},
            "reserve_pgbulk_over_raw": round(
                median["reserve_pgbulk"] / median["reserve_raw"], 2
            ),
            "reserve_orm_over_raw": round(
                median["reserve_orm"] / median["reserve_raw"], 2
            ),
            "release_pgbulk_over_raw": round(
                median["release_pgbulk"] / median["release_raw"], 2
            ),
            "release_orm_over_raw": round(
                median["release_orm"] / median["release_raw"], 2
            ),
        }
    # An import chunk's allocation rows, their order lines' keys checked now.
    from core.bulk import bulk_insert

    checks = []
    picks = next(batches(len({row[0] for row in lines}), lines, level_of))
    for _ in range(5):
        with transaction.atomic():
            bulk_insert(
                Allocation,
                (
                    {"order_line_id": line, "stock_level_id": level, "quantity": q}
                    for line, level, q in picks
                ),
            )
            checks.append(timed(sql.foreign_key_check_now, Allocation, "order_line"))
            transaction.set_rollback(True)
    results["check_now"] = {
        "rows": len(picks),
        "ms": round(statistics.median(checks), 2),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=60, help="batches per size")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument(
        "--database", default="oms_bench_stock", help="PostgreSQL database to create"
    )
    options = parser.parse_args()

    bench_django(options.database)
    from tests.support.allocation_load import build_scenario

    build_scenario(orders=options.orders, products=40)
    emit(
        {"benchmark": "stock_sql", "orders": options.orders, **measure(options.repeat)}
    )


if __name__ == "__main__":
    main()
