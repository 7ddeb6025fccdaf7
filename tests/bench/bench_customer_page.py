"""Benchmark: the customer's order page at a million orders (PostgreSQL).

Loads the scale data set into `--database` (default `oms_bench_scale_1m`,
the one `bench_admin.py` loads and keeps) if it holds
fewer than `--orders` orders (`seed_scale`), then opens the page of orders
in several states — allocated, shipped with scans and an exception, and
delivered with a return — through Django's test client: several runs each,
median and 95th percentile in milliseconds, and the number of queries.
The target is 100 ms. Prints JSON.

    python tests/bench/bench_customer_page.py [--orders 1000000] [--runs 30]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

TARGET_MS = 100


def _orders_to_open():
    """One order per state the page words differently, with scans and a
    return where it matters (added once, on orders of the data set)."""
    from django.utils import timezone

    from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent
    from orders.models import Order
    from returns.models import ReturnLine, ReturnRequest

    picked = {}
    for status in ("allocated", "shipped", "delivered"):
        order = (
            Order.objects.filter(status=status)
            .order_by("-placed_at", "-id")
            .only("pk")
            .first()
        )
        if order is not None:
            picked[status] = order.pk
    shipped = Shipment.objects.filter(order_id=picked.get("shipped")).first()
    if shipped is not None and not shipped.tracking_events.exists():
        now = timezone.now()
        TrackingEvent.objects.bulk_create(
            TrackingEvent(
                shipment=shipped,
                status=status,
                place=place,
                occurred_at=now - timedelta(hours=hours),
                exception_reason="address" if status == "exception" else "",
                description="Recipient not available" if status == "exception" else "",
            )
            for status, place, hours in [
                ("in_transit", "Memphis, TN", 30),
                ("in_transit", "Dallas, TX", 12),
                ("exception", "Austin, TX", 2),
            ]
        )
        Shipment.objects.filter(pk=shipped.pk).update(
            status=ShipmentStatus.EXCEPTION,
            exception_reason="address",
            estimated_delivery=timezone.localdate() + timedelta(days=2),
        )
    delivered = Order.objects.filter(pk=picked.get("delivered")).first()
    if (
        delivered is not None
        and not ReturnRequest.objects.filter(order=delivered).exists()
    ):
        Shipment.objects.filter(order=delivered).update(delivered_at=timezone.now())
        line = delivered.lines.first()
        rma = ReturnRequest.objects.create(
            number=f"RMA-B{delivered.pk}", order=delivered, status="approved"
        )
        ReturnLine.objects.create(
            return_request=rma, order_line=line, quantity=1, reason="does_not_fit"
        )
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", default="oms_bench_scale_1m")
    options = parser.parse_args()

    bench_django(options.database, keep=True)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from oms.seed.scale import seed_scale
    from orders.customer_access import customer_page_path
    from orders.models import Order

    # Not setup_test_environment(): its instrumented template rendering would
    # be timed too. The test client's host is allowed by hand instead.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OMS_CUSTOMER_PAGE_RATE = "1000000/minute"
    settings.OMS_CUSTOMER_LINK_DAYS = 100_000  # old seeded deliveries stay open
    loaded = Order.objects.count()
    load_seconds = None
    if loaded < options.orders:
        started = time.perf_counter()
        seed_scale(
            orders=options.orders - loaded,
            say=lambda text: print(text, file=sys.stderr),
        )
        load_seconds = round(time.perf_counter() - started, 1)
    client = Client()
    pages = {}
    for state, order_id in _orders_to_open().items():
        path = customer_page_path(order=Order.objects.get(pk=order_id))
        client.get(path)  # warm the connection and templates
        timings, cpu, database = [], [], []
        for _ in range(options.runs):
            with CaptureQueriesContext(connection) as queries:
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            database.append(
                sum(float(q["time"]) for q in queries.captured_queries) * 1000
            )
            assert response.status_code == 200, (state, response.status_code)
        timings.sort()
        pages[state] = {
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
            # On a busy machine the wall time counts waiting for a core; these
            # two say what the page itself costs: Python CPU, database time.
            "median_cpu_ms": round(statistics.median(cpu), 1),
            "median_db_ms": round(statistics.median(database), 1),
            "queries": len(queries.captured_queries),
            "bytes": len(response.content),
        }
    emit(
        {
            "benchmark": "customer_page",
            "orders": Order.objects.count(),
            "load_seconds": load_seconds,
            "runs": options.runs,
            "target_ms": TARGET_MS,
            "load_average_1m": round(os.getloadavg()[0], 1),
            "cores": os.cpu_count(),
            "pages": pages,
            "within_target": all(p["median_ms"] <= TARGET_MS for p in pages.values()),
        }
    )


if __name__ == "__main__":
    main()
