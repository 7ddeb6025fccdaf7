"""Benchmark: the admin at a million orders (PostgreSQL).

Loads the data set into the `oms_bench_scale` database if it is absent
(`seed_scale`), then times each list, filter, search, the dashboard and a
large order page through Django's test client: several runs each, median,
and the number of queries. Prints JSON.

    python tests/bench/bench_admin.py [--orders 1000000] [--runs 5]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

DATABASE = "oms_bench_scale"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    bench_django(DATABASE, keep=True)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from fulfillment.models import Shipment
    from oms.seed.scale import seed_scale
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
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)

    sample = Order.objects.order_by("-pk").values_list(
        "number", "external_id", "customer_id"
    )[1000]
    email = Customer.objects.get(pk=sample[2]).email
    tracking = (
        Shipment.objects.exclude(tracking_number="")
        .order_by("-pk")
        .values_list("tracking_number", flat=True)[500]
    )
    channel_id = Order.objects.values_list("channel_id", flat=True).first()
    pages = {
        "orders": "/admin/orders/order/",
        "orders_status_filter": "/admin/orders/order/?status=allocated",
        "orders_channel_filter": f"/admin/orders/order/?channel__id__exact={channel_id}",
        "orders_search_number": f"/admin/orders/order/?q={sample[0]}",
        "orders_search_external_id": f"/admin/orders/order/?q={sample[1]}",
        "orders_search_email": f"/admin/orders/order/?q={email.upper()}",
        "orders_search_tracking": f"/admin/orders/order/?q={tracking}",
        "orders_page_200": "/admin/orders/order/?p=200",
        "shipments": "/admin/fulfillment/shipment/",
        "shipments_status_filter": "/admin/fulfillment/shipment/?status__exact=exception",
        "shipments_search_tracking": f"/admin/fulfillment/shipment/?q={tracking}",
        "stock": "/admin/inventory/stocklevel/",
        "stock_below_reorder": "/admin/inventory/stocklevel/?reorder=below",
        "dashboard": "/admin/",
        "dashboard_uncached": "/admin/",
        "order_page_50_lines_100_events": f"/admin/orders/order/{big}/change/",
    }
    results = {}
    for name, url in pages.items():
        timings, queries, status, rows = [], 0, 0, None
        for _ in range(options.runs):
            if name.endswith("_uncached"):
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            queries, status = len(captured), response.status_code
            cl = getattr(response, "context_data", None) or {}
            if "cl" in cl:
                rows = len(cl["cl"].result_list)
        results[name] = {
            "median_ms": round(statistics.median(timings), 1),
            "queries": queries,
            "status": status,
            "rows": rows,
        }
    worst = max(results.values(), key=lambda r: r["median_ms"])
    emit(
        {
            "benchmark": "admin",
            "orders": Order.objects.count(),
            "seed_seconds": load_seconds,
            "runs": options.runs,
            "pages": results,
            "slowest_ms": worst["median_ms"],
            "max_queries_on_lists": max(
                r["queries"]
                for n, r in results.items()
                if not n.startswith("order_page")
            ),
        }
    )


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
            order=template, product=p, sku=p.sku, name=p.name, quantity=1, unit_price=1
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
