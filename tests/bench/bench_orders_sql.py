"""Benchmark: each statement of `orders/sql.py` against what the ORM (or
django-pgbulk) would do instead, A/B in one run, at an import's scale (the
100,000-line file of bench_import: ~25,000 orders, ~5,000 new customers,
tags from rules on many orders). Prints JSON.

- `ids_reserve`: 25,000 order ids taken, then the rows written by COPY
  (`core.bulk.bulk_insert`), against `Order.objects.bulk_create` (INSERT ...
  RETURNING id, the ORM's only way to learn ids);
- `customers_insert_new`: new customers inserted and their ids returned in
  one statement, against `bulk_create(ignore_conflicts=True)` and a lookup of
  the ids by lower(email) (pgbulk.upsert cannot name the expression index
  as its conflict target);
- `order_tags_insert`: (order, tag) pairs, a stored pair skipped, against
  `bulk_create(ignore_conflicts=True)` and `pgbulk.upsert(... DO NOTHING)`.

`constraints_check` (SET CONSTRAINTS) is a control statement with no ORM
counterpart; it is timed alone for the record.

Each figure is the best of `--repeat` runs, each in a transaction rolled
back.

    python tests/bench/bench_orders_sql.py [--orders 25000] [--repeat 3]
        [--database oms_bench_orders_sql]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402


def best_of(repeat: int, run) -> float:
    """The fastest of `repeat` runs of `run()`, each rolled back."""
    from django.db import transaction

    times = []
    for _ in range(repeat):
        with transaction.atomic():
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            transaction.set_rollback(True)
    return round(min(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="oms_bench_orders_sql")
    options = parser.parse_args()
    bench_django(options.database)

    import pgbulk
    from django.db.models.functions import Lower
    from django.utils import timezone

    from core.bulk import bulk_insert
    from core.lookups import any_of
    from orders.models import Channel, Customer, Order, OrderTag, OrderTagging
    from orders.sql import (
        constraints_check,
        customers_insert_new,
        ids_reserve,
        order_tags_insert,
    )

    now = timezone.now()
    count = options.orders
    channel = Channel.objects.create(code="bench", name="Bench")
    customer = Customer.objects.create(email="bench@example.com")
    order_rows = [
        {
            "number": f"SO-B{n:07d}",
            "channel_id": channel.pk,
            "external_id": f"B-{n}",
            "customer_id": customer.pk,
            "status": "pending",
            "placed_at": now,
            "ship_name": "Bench Customer",
            "ship_address1": "1 Bench Street",
            "ship_city": "Springfield",
            "ship_postcode": "12345",
            "ship_country": "US",
            "currency": "USD",
            "subtotal": "10.00",
            "total": "10.00",
        }
        for n in range(count)
    ]

    def reserve_and_copy() -> None:
        ids = ids_reserve(Order, count)
        bulk_insert(
            Order, ({**row, "id": pk} for pk, row in zip(ids, order_rows, strict=True))
        )

    def orm_bulk_create() -> None:
        Order.objects.bulk_create([Order(**row) for row in order_rows], batch_size=2000)

    new_customers = count // 5
    emails = [f"customer{n}@example.com" for n in range(new_customers)]
    names = [f"Customer {n}" for n in range(new_customers)]
    phones = [""] * new_customers

    def customers_raw() -> None:
        ids = dict(
            customers_insert_new(emails=emails, names=names, phones=phones, now=now)
        )
        assert len(ids) == new_customers

    def customers_orm() -> None:
        Customer.objects.bulk_create(
            [
                Customer(email=email, name=name, phone=phone)
                for email, name, phone in zip(emails, names, phones, strict=True)
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        ids = dict(
            Customer.objects.annotate(email_lower=Lower("email"))
            .filter(any_of("email_lower", emails))
            .values_list("email_lower", "pk")
        )
        assert len(ids) == new_customers

    tags = [OrderTag.objects.create(name=f"bench-{n}") for n in range(3)]
    order_ids = [pk for pk in range(1, count + 1)]
    pairs = [(pk, tags[pk % 3].pk) for pk in order_ids] + [
        (pk, tags[0].pk) for pk in order_ids[: count // 10]
    ]

    def tags_raw() -> None:
        order_tags_insert(
            order_ids=[o for o, _ in pairs], tag_ids=[t for _, t in pairs]
        )

    def tags_orm() -> None:
        OrderTagging.objects.bulk_create(
            [OrderTagging(order_id=o, ordertag_id=t) for o, t in pairs],
            batch_size=2000,
            ignore_conflicts=True,
        )

    def tags_pgbulk() -> None:
        # One statement per distinct batch: pgbulk refuses a pair twice in one.
        for start in range(0, len(pairs), 5000):
            batch = dict.fromkeys(pairs[start : start + 5000])
            pgbulk.upsert(
                OrderTagging,
                [OrderTagging(order_id=o, ordertag_id=t) for o, t in batch],
                ["order", "ordertag"],
                [],
            )

    def check_after_copy() -> None:
        reserve_and_copy()
        constraints_check()

    cases = {
        "ids_reserve": {"raw": reserve_and_copy, "orm_bulk_create": orm_bulk_create},
        "customers_insert_new": {"raw": customers_raw, "orm": customers_orm},
        "order_tags_insert": {
            "raw": tags_raw,
            "orm_bulk_create": tags_orm,
            "pgbulk_upsert": tags_pgbulk,
        },
        "constraints_check_after_ids_reserve": {"raw": check_after_copy},
    }
    results = {}
    for case, runs in cases.items():
        seconds = {name: best_of(options.repeat, run) for name, run in runs.items()}
        results[case] = {
            "seconds": seconds,
            "others_vs_raw": {
                name: round(value / seconds["raw"], 2)
                for name, value in seconds.items()
                if name != "raw"
            },
        }
    emit(
        {
            "orders": count,
            "new_customers": new_customers,
            "tag_pairs": len(pairs),
            "repeat": options.repeat,
            "cases": results,
        }
    )


if __name__ == "__main__":
    main()
