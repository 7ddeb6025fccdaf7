"""Benchmark: import a generated 100,000-line CSV file (~25,000 orders) on
PostgreSQL, and, in the same run, a plain django-import-export ModelResource
row-at-a-time import of a 10,000-line sample for comparison. Prints JSON.

    python tests/bench/bench_import.py [--lines 100000] [--baseline-lines 10000]
"""

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

HEADER = [
    "order_ref",
    "placed_at",
    "customer_email",
    "customer_name",
    "ship_name",
    "ship_address1",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "shipping_method",
    "currency",
    "sku",
    "quantity",
    "unit_price",
    "shipping_amount",
    "tax_amount",
]


def generate(lines: int, skus: list[str], prefix: str, seed: int = 1) -> bytes:
    """An OMS-format file of `lines` lines, 1-7 per order (about 4)."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    written, order = 0, 0
    while written < lines:
        order += 1
        customer = rng.randint(1, max(1, lines // 5))
        count = min(rng.randint(1, 7), lines - written)
        head = [
            f"{prefix}-{order}",
            f"2026-11-{rng.randint(1, 20):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            f"customer{customer}@example.com",
            f"Customer {customer}",
            f"Customer {customer}",
            f"{rng.randint(1, 999)} Main St",
            "Austin",
            "TX",
            "78701",
            "US",
            "Standard",
            "USD",
        ]
        for sku in rng.sample(skus, count):
            writer.writerow(
                [
                    *head,
                    sku,
                    rng.randint(1, 3),
                    f"{rng.randint(500, 9999) / 100:.2f}",
                    "4.95",
                    "0.00",
                ]
            )
        written += count
    return buffer.getvalue().encode()


def plain_resource_import(data: bytes, channel) -> float:
    """Import with a plain ModelResource (one row at a time, the common way)."""
    import tablib
    from import_export import fields, resources, widgets

    from inventory.models import Product
    from orders.models import Customer, Order, OrderLine
    from orders.services import order_number_next

    class PlainOrderResource(resources.ModelResource):
        external_id = fields.Field(attribute="external_id", column_name="order_ref")
        placed_at = fields.Field(
            attribute="placed_at",
            column_name="placed_at",
            widget=widgets.DateTimeWidget(),
        )
        ship_name = fields.Field(attribute="ship_name", column_name="ship_name")
        ship_address1 = fields.Field(
            attribute="ship_address1", column_name="ship_address1"
        )
        ship_city = fields.Field(attribute="ship_city", column_name="ship_city")
        ship_region = fields.Field(attribute="ship_region", column_name="ship_region")
        ship_postcode = fields.Field(
            attribute="ship_postcode", column_name="ship_postcode"
        )
        ship_country = fields.Field(
            attribute="ship_country", column_name="ship_country"
        )
        currency = fields.Field(attribute="currency", column_name="currency")
        shipping_amount = fields.Field(
            attribute="shipping_amount",
            column_name="shipping_amount",
            widget=widgets.DecimalWidget(),
        )

        class Meta:
            model = Order
            import_id_fields = ("external_id",)
            fields = (
                "external_id",
                "placed_at",
                "ship_name",
                "ship_address1",
                "ship_city",
                "ship_region",
                "ship_postcode",
                "ship_country",
                "currency",
                "shipping_amount",
            )

        def before_save_instance(self, instance, row, **kwargs):
            instance.channel = channel
            instance.customer, _ = Customer.objects.get_or_create(
                email=row["customer_email"], defaults={"name": row["customer_name"]}
            )
            if not instance.number:
                instance.number = order_number_next()

        def after_save_instance(self, instance, row, **kwargs):
            product = Product.objects.get(sku=row["sku"])
            OrderLine.objects.create(
                order=instance,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=int(row["quantity"]),
                unit_price=row["unit_price"],
            )

    dataset = tablib.Dataset().load(data.decode(), format="csv")
    started = time.perf_counter()
    result = PlainOrderResource().import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - started
    assert not result.has_errors()
    return seconds


def child_import(path: str) -> None:
    """Run one import in this fresh process and print its figures as JSON.

    A separate process so that peak memory is the import's own, not that of
    generating the test file.
    """
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    django.setup()
    from orders.importing.services import orders_import
    from orders.models import Channel

    data = Path(path).read_bytes()
    started = time.perf_counter()
    result = orders_import(
        data=data,
        actor=None,
        channel=Channel.objects.get(code="bench"),
        filename="bench.csv",
    )
    seconds = time.perf_counter() - started
    assert result.written and result.ok, result.problems[:5]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "orders": result.orders,
                "lines": result.lines,
                "new_customers": len(result.new_customers),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--baseline-lines", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_import(options.child)
        return

    bench_django("oms_bench_import")
    from inventory.models import Product
    from orders.models import Channel, Order, OrderLine

    channel = Channel.objects.create(code="bench", name="Bench")
    skus = [f"BENCH-{n:04d}" for n in range(500)]
    Product.objects.bulk_create(
        Product(sku=sku, name=f"Bench product {sku}") for sku in skus
    )
    data = generate(options.lines, skus, "BIG")
    with tempfile.NamedTemporaryFile(suffix=".csv") as file:
        file.write(data)
        file.flush()
        child = subprocess.run(
            [sys.executable, __file__, "--child", file.name],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    assert OrderLine.objects.count() == options.lines

    sample = generate(options.baseline_lines, skus, "PLAIN", seed=2)
    plain_seconds = plain_resource_import(sample, channel)
    ours_lines_per_second = options.lines / figures["seconds"]
    plain_lines_per_second = options.baseline_lines / plain_seconds
    emit(
        {
            "benchmark": "import",
            "lines": options.lines,
            "orders": figures["orders"],
            "new_customers": figures["new_customers"],
            "file_mb": round(len(data) / 1_048_576, 1),
            "seconds": round(figures["seconds"], 2),
            "lines_per_second": round(ours_lines_per_second),
            "peak_rss_mb": round(figures["peak_rss_mb"], 1),
            "plain_resource": {
                "lines": options.baseline_lines,
                "seconds": round(plain_seconds, 2),
                "lines_per_second": round(plain_lines_per_second),
            },
            "speedup_vs_plain_resource": round(
                ours_lines_per_second / plain_lines_per_second, 1
            ),
            "orders_in_database": Order.objects.count(),
        }
    )


if __name__ == "__main__":
    main()
