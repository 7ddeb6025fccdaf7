"""Benchmark: buying and printing EasyPost labels for many packed shipments,
and the rate our own labels render in ZPL.

Builds N packed shipments through the services on a fresh PostgreSQL
database, at a location that buys postage through EasyPost, with the local
EasyPost stand-in (tests/support/easypost.py) answering every call after
`--latency` seconds. Not measured: placing, picking, packing. Measured:
fetching rates (concurrent), buying every label (concurrent, bounded,
no transaction or row lock held during a call) and shipping each, then the
one merged 4×6 PDF of all labels; and our own ZPL labels per second.
Prints JSON.

    python tests/bench/bench_labels.py [--shipments 500] [--latency 0.15] [--workers 16]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402

TARGET_SECONDS = 30.0
TARGET_ZPL_PER_SECOND = 2000


def build(count: int) -> list[int]:
    """Place, allocate, pick and pack N one-line orders (not measured)."""
    from decimal import Decimal

    from fulfillment.models import Carrier, Shipment
    from fulfillment.models.postage import CarrierAccount, LocationPostage
    from fulfillment.services.packing import Parcels, shipments_pack
    from fulfillment.services.picking import pick_lists_create
    from inventory.models import Location, Product
    from inventory.services import stock_receive
    from orders.addresses import Address
    from orders.models import Channel, Customer
    from orders.services.orders import LineInput, order_create

    # One pick list takes every order (a location's list takes at most its
    # wave size, 200 by default): all N shipments are packed and bought.
    location = Location.objects.create(
        code="RNO", name="Reno warehouse", country="US", wave_size=max(count, 1)
    )
    carrier = Carrier.objects.create(code="easypost", name="EasyPost")
    CarrierAccount.objects.create(
        carrier=carrier, kind="easypost", mode="test", api_key="EZTK_bench"
    )
    LocationPostage.objects.create(
        location=location,
        carrier=carrier,
        street1="1200 Logistics Way",
        city="Reno",
        state="NV",
        zip="89502",
        rate_choice="cheapest",
    )
    products = [
        Product.objects.create(
            sku=f"BENCH-{n:02d}",
            name=f"Bench mug {n}",
            weight_g=450,
            length_mm=120,
            width_mm=100,
            height_mm=100,
        )
        for n in range(50)
    ]
    for product in products:
        stock_receive(product=product, location=location, quantity=count, actor=None)
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="bench@example.com", name="Bench")
    orders = [
        order_create(
            channel=channel,
            customer=customer,
            external_id=f"B-{n}",
            address=Address(
                name=f"Customer {n}",
                address1=f"{n} Main St",
                city="Austin",
                region="TX",
                postcode="78701",
                country="US",
            ),
            lines=[
                LineInput(
                    product=products[n % len(products)],
                    quantity=1,
                    unit_price=Decimal("9.00"),
                )
            ],
            actor=None,
        )
        for n in range(count)
    ]
    pick_lists_create(order_ids=[o.pk for o in orders], actor=None)
    shipments = list(Shipment.objects.order_by("pk"))
    for start in range(0, len(shipments), 100):
        batch = shipments[start : start + 100]
        shipments_pack(
            parcels=[Parcels(shipment=s) for s in batch],
            actor=None,
            expected_versions={},
        )
    return [s.pk for s in shipments]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--zpl-labels", type=int, default=5000)
    parser.add_argument("--database", default="oms_bench_labels")
    args = parser.parse_args()

    # Packing enqueues the rate fetch; here the bench fetches them itself.
    os.environ["OMS_TASKS_BACKEND"] = "database"
    bench_django(args.database)

    from django.conf import settings

    from fulfillment import documents, sheets, zpl
    from fulfillment.models import DocumentKind, Shipment, ShipmentStatus
    from fulfillment.postage.buying import shipments_postage_buy
    from fulfillment.postage.rates import shipments_rates_fetch
    from fulfillment.services.printing import document_print_record
    from tests.support.easypost import FakeEasyPost

    fake = FakeEasyPost(delay=args.latency).start()
    settings.OMS_EASYPOST_API_BASE = fake.api_base
    settings.OMS_EASYPOST_TIMEOUT = 20
    ids = build(args.shipments)

    started = time.perf_counter()
    problems = shipments_rates_fetch(shipment_ids=ids, workers=args.workers)
    rating_seconds = time.perf_counter() - started
    assert not problems, problems[:3]

    started = time.perf_counter()
    report = shipments_postage_buy(
        choices=[(pk, "") for pk in ids], actor=None, workers=args.workers
    )
    buy_seconds = time.perf_counter() - started
    rendered = documents.render(DocumentKind.SHIPPING_LABEL, ids)
    document_print_record(
        kind=DocumentKind.SHIPPING_LABEL,
        actor=None,
        shipment_ids=ids,
        pages=rendered.pages,
    )
    total_seconds = time.perf_counter() - started
    shipped = Shipment.objects.filter(pk__in=ids, status=ShipmentStatus.SHIPPED).count()
    purchases = sum(fake.buys.values())

    labels = sheets.shipping_labels(shipment_ids=ids[:1])
    # Our own ZPL: the label records of shipped shipments, drawn again and again.
    records = labels * args.zpl_labels
    started = time.perf_counter()
    text = zpl.labels_zpl(records)
    zpl_seconds = time.perf_counter() - started
    fake.stop()
    emit(
        {
            "benchmark": "labels",
            "shipments": args.shipments,
            "latency_s": args.latency,
            "workers": args.workers,
            "rating_seconds": round(rating_seconds, 2),
            "buy_seconds": round(buy_seconds, 2),
            "buy_and_print_seconds": round(total_seconds, 2),
            "target_seconds": TARGET_SECONDS,
            "bought": len(report.bought),
            "errors": report.errors[:5],
            "shipped": shipped,
            "easypost_purchases": purchases,
            "pdf_pages": rendered.pages,
            "zpl_labels": text.count("^XA"),
            "zpl_labels_per_second": round(args.zpl_labels / zpl_seconds),
            "zpl_target_per_second": TARGET_ZPL_PER_SECOND,
            "passed": total_seconds <= TARGET_SECONDS
            and shipped == args.shipments
            and purchases == args.shipments
            and args.zpl_labels / zpl_seconds >= TARGET_ZPL_PER_SECOND,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


if __name__ == "__main__":
    main()
