"""Benchmark: packing slips and shipping labels for many shipments.

Builds N shipments of 1–5 lines each on a fresh PostgreSQL database, then
renders all packing slips (with their Code 128 barcodes) and all 4×6 labels
(barcode + QR code) the way the admin does: page records from the selectors
in a fixed number of queries, WeasyPrint in chunks over all cores, merged
with pypdf. In the same run it measures the naive way on a sample: for each
shipment, build its context with its own queries and render it alone.
Prints JSON with pages/s, seconds, queries and peak RSS.

    python tests/bench/bench_documents.py [--shipments 1000] [--baseline-sample 100]
"""

import argparse
import io
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402

TARGET_SECONDS = 20.0


def build(shipments: int) -> list[int]:
    """Write N shipped shipments with their orders in bulk (not measured)."""
    from django.utils import timezone

    from core.sequences import format_number
    from fulfillment.models import Carrier, PickList, Shipment, ShipmentLine
    from inventory.models import Location, Product, StockLevel
    from orders.models import Channel, Customer, Order, OrderLine

    rng = random.Random(7)
    location = Location.objects.create(
        code="RNO",
        name="Reno warehouse",
        country="US",
        address="1200 Logistics Way\nReno, NV 89502\nUnited States",
    )
    products = Product.objects.bulk_create(
        Product(sku=f"SKU-{n:05d}-{rng.choice('SMLX')}", name=f"Product {n}, black")
        for n in range(400)
    )
    StockLevel.objects.bulk_create(
        StockLevel(product=p, location=location, bin=f"A-{n % 40:02d}-{n % 4}")
        for n, p in enumerate(products)
    )
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="bench@example.com", name="Bench")
    carrier = Carrier.objects.create(
        code="pex",
        name="Parcel Express",
        tracking_url_template="https://track.example/{tracking}",
        services="Ground",
    )
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            number=format_number("SO", n),
            channel=channel,
            external_id=f"B-{n}",
            customer=customer,
            ship_name=f"Customer {n}",
            ship_address1=f"{n} Main St",
            ship_city="Austin",
            ship_region="TX",
            ship_postcode="78701",
            ship_country="US",
            placed_at=now,
            total=Decimal("10.00"),
        )
        for n in range(1, shipments + 1)
    )
    lines = []
    for order in orders:
        for product in rng.sample(products, rng.randint(1, 5)):
            lines.append(
                OrderLine(
                    order=order,
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    quantity=(quantity := rng.randint(1, 3)),
                    unit_price=Decimal("10.00"),
                    total=Decimal("10.00") * quantity,
                )
            )
    lines = OrderLine.objects.bulk_create(lines)
    pick_list = PickList.objects.create(number="PL-000001", location=location)
    created = Shipment.objects.bulk_create(
        Shipment(
            number=format_number("SH", n),
            order=order,
            location=location,
            pick_list=pick_list,
            carrier=carrier,
            service="Ground",
            tracking_number=f"1Z{n:012d}",
            weight_g=rng.randint(200, 4000),
            shipped_at=now,
        )
        for n, order in enumerate(orders, start=1)
    )
    shipment_of = {s.order_id: s for s in created}
    ShipmentLine.objects.bulk_create(
        ShipmentLine(
            shipment=shipment_of[line.order_id],
            order_line=line,
            quantity=line.quantity,
        )
        for line in lines
    )
    return [s.pk for s in created]


def queries_of(function):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        result = function()
    return result, len(captured)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def optimised(kind: str, ids: list[int]) -> dict:
    from fulfillment import documents

    started, cpu = time.perf_counter(), cpu_seconds()
    rendered, queries = queries_of(lambda: documents.render(kind, ids))
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    _, queries_small = queries_of(lambda: documents.page_records(kind, ids[:10]))
    _, queries_large = queries_of(lambda: documents.page_records(kind, ids))
    assert rendered.pages == len(ids), (rendered.pages, len(ids))
    return {
        "pages": rendered.pages,
        "seconds": round(seconds, 2),
        "pages_per_second": round(rendered.pages / seconds, 1),
        # Wall time suffers when other work shares the cores; CPU time less so.
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_page": round(cpu * 1000 / rendered.pages, 1),
        "queries": queries,
        "queries_for_10_shipments": queries_small,
        "queries_for_all_shipments": queries_large,
        "pdf_mb": round(len(rendered.pdf) / 1e6, 2),
        "workers": documents.default_workers(),
    }


def naive(kind: str, ids: list[int]) -> dict:
    """One context and one WeasyPrint render per shipment, then merge."""
    from pypdf import PdfReader, PdfWriter

    from fulfillment import documents

    def run():
        writer = PdfWriter()
        for pk in ids:
            records = documents.page_records(kind, [pk])
            pdf = documents.html_to_pdf(documents.render_html(kind, records))
            writer.append(PdfReader(io.BytesIO(pdf)))
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    started, cpu = time.perf_counter(), cpu_seconds()
    pdf, queries = queries_of(run)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    return {
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_second": round(pages / seconds, 1),
        "cpu_ms_per_page": round(cpu * 1000 / pages, 1),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shipments", type=int, default=1000)
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=100,
        help="shipments the naive baseline renders (it is slow); 0 = all",
    )
    options = parser.parse_args()

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    bench_django("oms_bench_documents")
    from django.conf import settings

    settings.DEBUG = False
    started = time.perf_counter()
    ids = build(options.shipments)
    build_seconds = round(time.perf_counter() - started, 1)

    slips = optimised("packing_slip", ids)
    labels = optimised("shipping_label", ids)
    sample = ids[: options.baseline_sample or len(ids)]
    baseline = naive("packing_slip", sample)
    projected = round(baseline["seconds"] * len(ids) / len(sample), 1)
    emit(
        {
            "benchmark": "documents",
            "shipments": len(ids),
            "build_seconds": build_seconds,
            "packing_slips": slips,
            "shipping_labels": labels,
            "naive_packing_slips": {
                **baseline,
                "sample": len(sample),
                "projected_seconds_for_all": projected,
                "queries_per_shipment": round(baseline["queries"] / len(sample), 1),
            },
            "speedup_over_naive": round(
                slips["pages_per_second"] / baseline["pages_per_second"], 1
            ),
            "target_seconds": TARGET_SECONDS,
            "target_met": slips["seconds"] <= TARGET_SECONDS
            and slips["queries_for_10_shipments"] == slips["queries_for_all_shipments"],
            "peak_rss_mb": peak_rss_mb(),
            "cores": os.cpu_count(),
            "load_average_at_start": load_at_start,
        }
    )


if __name__ == "__main__":
    main()
