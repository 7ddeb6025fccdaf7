"""The 100,000-line file of bench_import, and the import it is compared with:
a plain django-import-export ModelResource, one row at a time."""

import csv
import io
import random
import time
from decimal import Decimal

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
    from orders.services.orders import order_number_next

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
                total=Decimal(row["unit_price"]) * int(row["quantity"]),
            )

    dataset = tablib.Dataset().load(data.decode(), format="csv")
    started = time.perf_counter()
    result = PlainOrderResource().import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - started
    assert not result.has_errors()
    return seconds
