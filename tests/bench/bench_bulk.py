"""Benchmark: `core.bulk`'s COPY writers against django-pgbulk's `copy`, A/B in
one run, on the rows an import writes most (timeline entries and order
lines). Prints JSON.

- `bulk_insert` (rows as dicts, COPY through psycopg's row writer) against
  `pgbulk.copy` of the same rows as model instances (text and binary);
- `copy_lines` (rows already in COPY's text form: the rules' timeline
  entries, each distinct entry rendered once) against `pgbulk.copy`.

Each figure is the best of `--repeat` runs, each in a transaction rolled
back, so every run writes into the same empty tables.

    python tests/bench/bench_bulk.py [--rows 100000] [--repeat 3]
        [--database oms_bench_bulk]
"""

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402


def best_of(repeat: int, run, model, rows: int) -> float:
    """The fastest of `repeat` runs of `run()`, each rolled back, each checked
    to have written `rows` rows of `model`."""
    from django.db import transaction

    times = []
    for _ in range(repeat):
        with transaction.atomic():
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            assert model.objects.count() == rows, "rows not written"
            transaction.set_rollback(True)
    return round(min(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="oms_bench_bulk")
    options = parser.parse_args()
    bench_django(options.database)

    import pgbulk
    from django.utils import timezone

    from core.bulk import bulk_insert, copy_lines, copy_text
    from orders.models import OrderEvent, OrderLine

    now = timezone.now()
    rows = options.rows
    event_rows = [
        {
            "order_id": 1 + n // 4,
            "kind": OrderEvent.Kind.IMPORTED,
            "message": f"Imported from bench.csv, row {n + 2}.",
            "user_id": None,
            "data": {"source": "bench.csv", "row": n + 2},
            "created_at": now,
        }
        for n in range(rows)
    ]
    line_rows = [
        {
            "id": n + 1,
            "order_id": 1 + n // 4,
            "product_id": 1 + n % 500,
            "sku": f"BENCH-{n % 500:04d}",
            "name": f"Bench product {n % 500}",
            "quantity": 1 + n % 3,
            "unit_price": "19.99",
            "total": str(Decimal("19.99") * (1 + n % 3)),
            "quantity_shipped": 0,
            "quantity_returned": 0,
        }
        for n in range(rows)
    ]
    event_fields = list(event_rows[0])
    line_fields = list(line_rows[0])
    rule_entry = "\t" + "\t".join(
        [
            copy_text(OrderEvent.Kind.RULE),
            copy_text("Rule 'Bench': tagged vip."),
            copy_text(json.dumps({"rule": 1, "rule_name": "Bench", "actions": []})),
            "\\N",
            now.isoformat(),
        ]
    )
    rule_columns = ("order_id", "kind", "message", "data", "user_id", "created_at")

    # pgbulk.copy takes a list: it walks the objects once to fill auto_now
    # fields before writing them (a generator would be spent by then).
    def pgbulk_copy(model, dict_rows, fields, binary=False):
        pgbulk.copy(model, [model(**row) for row in dict_rows], fields, binary=binary)

    def rule_instances():
        return [
            OrderEvent(
                order_id=1 + n // 4,
                kind=OrderEvent.Kind.RULE,
                message="Rule 'Bench': tagged vip.",
                data={"rule": 1, "rule_name": "Bench", "actions": []},
                user_id=None,
                created_at=now,
            )
            for n in range(rows)
        ]

    models = {
        "timeline_rows": OrderEvent,
        "order_lines": OrderLine,
        "rule_timeline_rows": OrderEvent,
    }
    cases = {
        "timeline_rows": {
            "core_bulk_insert": lambda: bulk_insert(OrderEvent, event_rows),
            "pgbulk_copy": lambda: pgbulk_copy(OrderEvent, event_rows, event_fields),
            "pgbulk_copy_binary": lambda: pgbulk_copy(
                OrderEvent, event_rows, event_fields, binary=True
            ),
        },
        "order_lines": {
            "core_bulk_insert": lambda: bulk_insert(OrderLine, line_rows),
            "pgbulk_copy": lambda: pgbulk_copy(OrderLine, line_rows, line_fields),
            "pgbulk_copy_binary": lambda: pgbulk_copy(
                OrderLine, line_rows, line_fields, binary=True
            ),
        },
        "rule_timeline_rows": {
            "core_copy_lines": lambda: copy_lines(
                OrderEvent,
                rule_columns,
                (f"{1 + n // 4}{rule_entry}\n" for n in range(rows)),
            ),
            "pgbulk_copy": lambda: pgbulk.copy(
                OrderEvent, rule_instances(), list(rule_columns)
            ),
            "pgbulk_copy_binary": lambda: pgbulk.copy(
                OrderEvent, rule_instances(), list(rule_columns), binary=True
            ),
        },
    }
    results = {}
    for case, runs in cases.items():
        seconds = {
            name: best_of(options.repeat, run, models[case], rows)
            for name, run in runs.items()
        }
        core = next(value for name, value in seconds.items() if name.startswith("core"))
        results[case] = {
            "seconds": seconds,
            "pgbulk_vs_core": {
                name: round(value / core, 2)
                for name, value in seconds.items()
                if name.startswith("pgbulk")
            },
        }
    emit({"rows": rows, "repeat": options.repeat, "cases": results})


if __name__ == "__main__":
    main()
