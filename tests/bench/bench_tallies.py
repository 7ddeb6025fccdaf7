"""Benchmark: the dashboard tallies' SQL (`oms/sql.py`) against what the ORM
(or django-pgbulk) would do instead, A/B in one run, on a `seed_scale` data
set (default 200,000 orders, kept in its database for the next run). Prints
JSON.

- `fold`: `tally_changes_fold` (one `DELETE ... RETURNING` feeding an
  adding upsert) against the ORM: read the change rows' ids, sum them per
  key, `pgbulk.upsert` adding to the tallies, delete those ids;
- `rebuild`: `tallies_rebuild` (`rows_insert_select`: the ORM's grouped
  count inserted by the database, one `INSERT ... SELECT` per tally) against
  the ORM alone (the grouped counts read into Python, `bulk_create`);
- `median_hours_to_ship`: the dashboard figure through the ORM (a
  `percentile_cont` aggregate over first shipments) against the hand-written
  query it replaced;
- `dashboard`: the dashboard's figures for a superuser (`dashboard_context`),
  after a fold, as a user sees them.

Each figure is the best of `--repeat` runs, each in a transaction rolled
back.

    python tests/bench/bench_tallies.py [--orders 200000] [--changes 50000]
        [--repeat 3] [--database oms_bench_tallies]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

MEDIAN_SQL = """
    SELECT c.name, percentile_cont(0.5) WITHIN GROUP (
        ORDER BY EXTRACT(EPOCH FROM (s.first_shipped - o.placed_at)) / 3600)
    FROM (SELECT order_id, MIN(shipped_at) AS first_shipped
          FROM fulfillment_shipment
          WHERE shipped_at >= %s GROUP BY order_id) s
    JOIN orders_order o ON o.id = s.order_id
    JOIN orders_channel c ON c.id = o.channel_id
    GROUP BY c.name ORDER BY c.name
"""


def best_of(repeat: int, run, prepare=None) -> float:
    """The fastest of `repeat` runs of `run()` (after `prepare()`, untimed),
    each rolled back."""
    from django.db import transaction

    times = []
    for _ in range(repeat):
        with transaction.atomic():
            if prepare:
                prepare()
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            transaction.set_rollback(True)
    return round(min(times), 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="oms_bench_tallies")
    options = parser.parse_args()
    bench_django(options.database, keep=True)

    import pgbulk
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, F, Sum
    from django.db.models.expressions import RawSQL
    from django.utils import timezone

    from oms import sql
    from oms.dashboard import dashboard_context, median_hours_to_ship
    from oms.models import OrderTally, OrderTallyChange
    from oms.seed.scale import seed_scale
    from oms.tallies import TALLIES, tallies_fold_now, tallies_rebuild
    from orders.models import Order

    present = Order.objects.count()
    if present < options.orders:
        seed_scale(
            orders=options.orders - present,
            say=lambda text: print(text, file=sys.stderr),
        )
    tallies_fold_now()
    order_tally = TALLIES[0]
    keys = list(order_tally.keys)

    def changes_write() -> None:
        """`--changes` change rows over the existing tally keys, as a day of
        status moves leaves them."""
        rows = list(OrderTally.objects.values_list(*keys)[: options.changes // 2])
        OrderTallyChange.objects.bulk_create(
            OrderTallyChange(**dict(zip(keys, row, strict=True)), change=sign)
            for n in range(options.changes)
            for row in [rows[n % len(rows)]]
            for sign in [1 if n % 3 else -1]
        )

    def fold_orm() -> None:
        ids = list(OrderTallyChange.objects.values_list("pk", flat=True))
        sums = (
            OrderTallyChange.objects.filter(pk__in=ids)
            .values_list(*keys)
            .annotate(n=Sum("change"))
            .order_by()
        )
        pgbulk.upsert(
            OrderTally,
            [
                OrderTally(**dict(zip(keys, key, strict=True)), orders=n)
                for *key, n in sums
            ],
            keys,
            [
                pgbulk.UpdateField(
                    "orders", expression=F("orders") + RawSQL("EXCLUDED.orders", [])
                )
            ],
        )
        OrderTallyChange.objects.filter(pk__in=ids).delete()

    def fold_sql() -> None:
        sql.tally_changes_fold(
            tally=OrderTally, changes=OrderTallyChange, keys=keys, count="orders"
        )

    def rebuild_orm() -> None:
        sql.tables_lock_against_writes(of=[tally.source for tally in TALLIES])
        for tally in TALLIES:
            tally.changes.objects.all().delete()
            tally.tally.objects.all().delete()
            groups = (
                tally.source.objects.order_by()
                .values_list(*tally.keys.values())
                .annotate(counted=Count("pk"))
            )
            tally.tally.objects.bulk_create(
                (
                    tally.tally(
                        **dict(zip(tally.keys, key, strict=True)), **{tally.count: n}
                    )
                    for *key, n in groups.iterator(chunk_size=5000)
                ),
                batch_size=5000,
            )

    since = timezone.now() - timezone.timedelta(days=30)

    def median_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute(MEDIAN_SQL, [since])
            cursor.fetchall()

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    repeat = options.repeat
    result = {
        "orders": Order.objects.count(),
        "tally_rows": OrderTally.objects.count(),
        "fold": {
            "changes": options.changes,
            "orm_pgbulk_s": best_of(repeat, fold_orm, changes_write),
            "sql_s": best_of(repeat, fold_sql, changes_write),
        },
        "rebuild": {
            "orm_s": best_of(repeat, rebuild_orm),
            "sql_s": best_of(repeat, tallies_rebuild),
        },
        "median_hours_to_ship": {
            "orm_s": best_of(repeat, lambda: median_hours_to_ship(since)),
            "sql_s": best_of(repeat, median_sql),
        },
        "dashboard_context_s": best_of(repeat, lambda: dashboard_context(user=admin)),
    }
    # The rolled-back runs leave dead rows in the tallies: clear them, so the
    # kept database reads as a real one would (bench_admin on it).
    with connection.cursor() as cursor:
        for tally in TALLIES:
            for model in (tally.tally, tally.changes):
                cursor.execute(f'VACUUM FULL ANALYZE "{model._meta.db_table}"')
    emit(result)


if __name__ == "__main__":
    main()
