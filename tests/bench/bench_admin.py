"""Benchmark: the admin at a million (or ten million) orders (PostgreSQL).

Loads the data set into its database if it is absent (`seed_scale`; the
database is kept for the next run), then times every list, filter, search,
date drill-down, the deepest numbered page and a seek far into history, the
dashboard and an order page with 50 lines and 100 timeline entries through
Django's test client: several runs each, median (wall clock and this process's
CPU), and the number of queries.
The `EXPLAIN` of each list's main query goes to stderr (the index it reads);
the JSON result to stdout.

    python tests/bench/bench_admin.py [--orders 1000000] [--runs 5]
        [--database oms_bench_scale_1m]
"""

import argparse
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402


def _label(orders: int) -> str:
    if orders % 1_000_000 == 0:
        return f"{orders // 1_000_000}m"
    return f"{orders // 1000}k" if orders % 1000 == 0 else str(orders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database", help="default: oms_bench_scale_<size>, e.g. oms_bench_scale_1m"
    )
    options = parser.parse_args()
    database = options.database or f"oms_bench_scale_{_label(options.orders)}"

    bench_django(database, keep=True)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from fulfillment.models import Shipment
    from oms.dashboard import dashboard_figures_refresh_now
    from oms.seed.scale import seed_scale
    from oms.tallies import tallies_fold_now
    from orders.models import Customer, Order

    setup_test_environment()
    loaded = Order.objects.count()
    load_seconds = None
    if loaded < options.orders:
        started = time.perf_counter()
        seed_scale(
            orders=options.orders - loaded,
            say=lambda text: print(text, file=sys.stderr),
        )
        load_seconds = round(time.perf_counter() - started, 1)
    big = _large_order()
    # As the worker keeps them: history figures computed, tally changes folded.
    dashboard_figures_refresh_now()
    tallies_fold_now()
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)

    sample = Order.objects.order_by("-placed_at", "-pk").values_list(
        "number", "external_id", "customer_id"
    )[1000]
    email = Customer.objects.get(pk=sample[2]).email
    tracking = (
        Shipment.objects.exclude(tracking_number="")
        .order_by("-created_at", "-pk")
        .values_list("tracking_number", flat=True)[500]
    )
    channel_id = Order.objects.values_list("channel_id", flat=True).first()
    # A day and a month well in the past, in the admin's time zone.
    old = timezone.localtime(timezone.now() - timedelta(days=200))
    day = f"placed_at__year={old.year}&placed_at__month={old.month}&placed_at__day={old.day}"
    month = f"placed_at__year={old.year}&placed_at__month={old.month}"
    # A position ~300 days back in the newest-first list (the seek).
    deep = (
        Order.objects.filter(placed_at__lt=timezone.now() - timedelta(days=300))
        .order_by("-placed_at", "-pk")
        .values_list("placed_at", "pk")
        .first()
    )
    before = f"{deep[0].isoformat()}_{deep[1]}".replace("+", "%2B")
    orders = "/admin/orders/order/"
    pages = {
        "orders": orders,
        "orders_status_filter": f"{orders}?status=allocated",
        "orders_status_filter_old": f"{orders}?status=delivered",
        "orders_channel_filter": f"{orders}?channel__id__exact={channel_id}",
        "orders_search_number": f"{orders}?q={sample[0]}",
        "orders_search_external_id": f"{orders}?q={sample[1]}",
        "orders_search_email": f"{orders}?q={email.upper()}",
        "orders_search_tracking": f"{orders}?q={tracking}",
        "orders_page_20_last_numbered": f"{orders}?p=20",
        "orders_older_300_days_back": f"{orders}?before={before}",
        "orders_month": f"{orders}?{month}",
        "orders_day": f"{orders}?{day}",
        "orders_day_page_20": f"{orders}?{day}&p=20",
        "orders_day_status_filter": f"{orders}?{day}&status=delivered",
        "shipments": "/admin/fulfillment/shipment/",
        "shipments_status_filter": "/admin/fulfillment/shipment/?status__exact=exception",
        "shipments_search_tracking": f"/admin/fulfillment/shipment/?q={tracking}",
        "stock": "/admin/inventory/stocklevel/",
        "stock_below_reorder": "/admin/inventory/stocklevel/?reorder=below",
        "dashboard": "/admin/",
        "dashboard_uncached": "/admin/",
        "order_page_50_lines_100_events": f"/admin/orders/order/{big}/change/",
    }
    results, plans = {}, {}
    for name, url in pages.items():
        timings, cpu_timings, sql_timings, queries, status, rows = (
            [],
            [],
            [],
            0,
            0,
            None,
        )
        for _ in range(options.runs):
            if name.endswith("_uncached"):
                cache.clear()  # nothing on the dashboard depends on the cache
            with CaptureQueriesContext(connection) as captured:
                started, cpu = time.perf_counter(), time.process_time()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                cpu_timings.append((time.process_time() - cpu) * 1000)
            queries, status = len(captured), response.status_code
            sql_timings.append(sum(float(q["time"]) for q in captured) * 1000)
            context = getattr(response, "context_data", None) or {}
            if "cl" in context:
                rows = len(context["cl"].result_list)
        results[name] = {
            "median_ms": round(statistics.median(timings), 1),
            # Of which in the database (the rest is Python: forms, templates).
            "sql_median_ms": round(statistics.median(sql_timings), 1),
            # This process's CPU (Django: forms, templates; not the database
            # server's): steadier than the wall clock on a busy machine.
            "cpu_median_ms": round(statistics.median(cpu_timings), 1),
            "queries": queries,
            "status": status,
            "rows": rows,
        }
        if "cl" in context:
            cl = context["cl"]
            plan = _explain(connection, cl.result_list)
            if cl.page_num > 1 and hasattr(cl.paginator, "max_pages"):
                # The order list reads a deep page's keys first (OrderListPaginator).
                start = (cl.page_num - 1) * cl.list_per_page
                keys = cl.paginator.object_list.values_list("pk", flat=True)
                plan = (
                    _explain(connection, keys[start : start + cl.list_per_page])
                    + "\n-- then the page's rows:\n"
                    + plan
                )
            plans[name] = plan
            results[name]["indexes"] = sorted(
                set(
                    re.findall(
                        r"(?:Index|Index Only) Scan (?:Backward )?using (\w+)", plan
                    )
                )
            )
            print(f"--- EXPLAIN {name}: {url}\n{plan}\n", file=sys.stderr)
    worst = max(results.values(), key=lambda r: r["median_ms"])
    # What the unfiltered lists' paginator reads instead of a count.
    from core.sql import table_row_estimate

    counting, estimating = [], []
    for _ in range(options.runs):
        started = time.perf_counter()
        Order.objects.count()
        counting.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        table_row_estimate(Order._meta.db_table)
        estimating.append((time.perf_counter() - started) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    emit(
        {
            "benchmark": "admin",
            "database": database,
            "orders": Order.objects.count(),
            "database_bytes": size,
            "seed_seconds": load_seconds,
            "runs": options.runs,
            "pages": results,
            "slowest_ms": worst["median_ms"],
            "slowest_cpu_ms": max(r["cpu_median_ms"] for r in results.values()),
            "max_queries_on_lists": max(
                r["queries"]
                for n, r in results.items()
                if not n.startswith("order_page")
            ),
            "order_page_queries": results["order_page_50_lines_100_events"]["queries"],
            "row_count_ms": {
                "orm_count": round(statistics.median(counting), 1),
                "estimate": round(statistics.median(estimating), 2),
            },
        }
    )


def _explain(connection, queryset) -> str:
    """EXPLAIN (ANALYZE) of the list's page query, as the admin ran it."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _large_order() -> int:
    """An order with 50 lines and 100 timeline entries (made once)."""
    from inventory.models import Product
    from orders.models import Order, OrderEvent, OrderLine

    found = (
        Order.objects.filter(external_id="BENCH-BIG")
        .values_list("pk", flat=True)
        .first()
    )
    if found:
        return found
    template = Order.objects.order_by("pk").first()
    template.pk = None
    template.number, template.external_id = "SO-BENCH-BIG", "BENCH-BIG"
    template.save()
    products = list(Product.objects.all()[:50])
    OrderLine.objects.bulk_create(
        OrderLine(
            order=template,
            product=p,
            sku=p.sku,
            name=p.name,
            quantity=1,
            unit_price=1,
            total=1,
        )
        for p in products
    )
    OrderEvent.objects.bulk_create(
        OrderEvent(order=template, kind="status", message=f"Status change {n}")
        for n in range(100)
    )
    return template.pk


if __name__ == "__main__":
    main()
