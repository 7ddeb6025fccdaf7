"""Benchmark: how long the server takes to answer one pack station scan.

Builds N shipments of three lines (1, 2 and 3 units) on a pick list on a
fresh PostgreSQL database, plus a history of earlier scans (other
shipments, refused scans) so the scan table is not empty. Not measured:
placing, picking, opening. Measured: every item scan of every shipment,
through the JSON endpoint as the browser calls it (Django test client:
URL routing, session, CSRF-exempt test client, the service, the JSON), and
through the service alone; refused scans (wrong item, over-scan) included.
The target is 50 ms server-side per scan. Prints JSON.

    python tests/bench/bench_packstation.py [--shipments 60] [--history 20000]
        [--database oms_bench_packstation]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402

TARGET_MS = 50.0
STATION = "st-bench"


def build(count: int, history: int) -> tuple[list, object]:
    """Place, allocate and pick N three-line orders; write a scan history."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fulfillment.models import PackScan, Shipment
    from fulfillment.services.picking import pick_lists_create
    from inventory.models import Location, Product
    from inventory.services import stock_receive
    from oms.roles import WAREHOUSE, roles_setup
    from orders.addresses import Address
    from orders.models import Channel, Customer
    from orders.services.orders import LineInput, order_create

    user = get_user_model().objects.create_user(
        username="bench-packer", password="x", is_staff=True
    )
    user.groups.add(roles_setup()[WAREHOUSE])
    channel = Channel.objects.create(code="web", name="Web")
    customer = Customer.objects.create(email="b@example.com", name="Bench Buyer")
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    products = [
        Product.objects.create(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"40000000000{n:02d}"
        )
        for n in range(1, 4)
    ]
    for product in products:
        stock_receive(
            product=product, location=location, quantity=count * 6, actor=None
        )
    orders = [
        order_create(
            channel=channel,
            customer=customer,
            external_id=f"B-{n}",
            address=Address(name="B", address1="1 St", city="Austin", country="US"),
            lines=[
                LineInput(product=p, quantity=q, unit_price=Decimal("5"))
                for p, q in zip(products, (1, 2, 3), strict=True)
            ],
            actor=None,
        )
        for n in range(count)
    ]
    pick_lists_create(order_ids=[o.pk for o in orders], actor=None)
    shipments = list(Shipment.objects.order_by("pk"))
    now = timezone.now()
    PackScan.objects.bulk_create(
        PackScan(
            shipment=shipments[n % len(shipments)],
            kind="item",
            code="OLD",
            accepted=False,
            reason="history",
            user=user,
            created_at=now,
        )
        for n in range(history)
    )
    return shipments, user


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=60)
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--database", default="oms_bench_packstation")
    args = parser.parse_args()
    bench_django(args.database)

    from django.conf import settings
    from django.test import Client

    from fulfillment.services import packstation as station

    shipments, user = build(args.shipments, args.history)
    half = len(shipments) // 2
    # The scans a packer makes on each shipment: one by one, a multiple, a
    # wrong item and an over-scan.
    codes = ["4000000000001", "TEE-2", "MUG-9", "4000000000002", "TEE-2", "3*TEE-3"]

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    http_ms: list[float] = []
    for shipment in shipments[:half]:
        station.packstation_open(code=shipment.number, actor=user, station=STATION)
        for code in codes:
            started = time.perf_counter()
            response = client.post(
                "/admin/fulfillment/packclaim/scan/",
                json.dumps({"station": STATION, "shipment": shipment.pk, "code": code}),
                content_type="application/json",
            )
            http_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
    service_ms: list[float] = []
    for shipment in shipments[half:]:
        station.packstation_open(code=shipment.number, actor=user, station=STATION)
        for code in codes:
            started = time.perf_counter()
            station.packstation_scan(
                shipment_id=shipment.pk, code=code, actor=user, station=STATION
            )
            service_ms.append((time.perf_counter() - started) * 1000)

    def figures(samples: list[float]) -> dict:
        ordered = sorted(samples)
        return {
            "scans": len(ordered),
            "median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
            "max_ms": round(ordered[-1], 2),
        }

    http = figures(http_ms)
    emit(
        {
            "benchmark": "packstation_scan",
            "shipments": args.shipments,
            "scan_history_rows": args.history,
            "endpoint": http,
            "service": figures(service_ms),
            "target_ms": TARGET_MS,
            "meets_target_p95": http["p95_ms"] <= TARGET_MS,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


if __name__ == "__main__":
    main()
