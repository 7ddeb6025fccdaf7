"""A data set at production scale for trying the admin and benchmarking it:
`seed_scale --orders 1000000` (PostgreSQL; rows stream in with COPY).

Orders, lines, customers, timeline entries and shipments with tracking
numbers are written directly in bulk: this is load-test data, not business
history, so it skips allocation (stock levels hold on-hand stock only).
"""

import os
import random
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.db import connection, connections, transaction
from django.utils import timezone

from core.bulk import bulk_insert, reserve_ids
from fulfillment.models import Carrier, Shipment
from inventory.models import Location, Product, StockLevel
from oms.seed.data import FIRST, LAST
from orders.models import Channel, Customer, Order, OrderEvent, OrderLine

LINES_PER_ORDER = (1, 2, 2, 3, 3, 4)  # 2.5 on average
CHANNELS = [
    ("web", "Web shop", "web"),
    ("marketplace", "Marketplace", "marketplace"),
    ("phone", "Phone orders", "phone"),
]
CARRIERS = [
    ("ups", "UPS", "https://www.ups.com/track?tracknum={tracking}"),
    ("dhl", "DHL", "https://www.dhl.com/track?id={tracking}"),
]
# Old orders are mostly done; the last days hold the open work.
RECENT_STATUSES = (
    ["allocated"] * 30
    + ["backordered"] * 8
    + ["picking"] * 8
    + ["packed"] * 6
    + ["on_hold"] * 3
    + ["cancelled"] * 3
    + ["pending"] * 2
    + ["shipped"] * 40
)
OLD_STATUSES = (
    ["delivered"] * 90 + ["shipped"] * 4 + ["cancelled"] * 4 + ["partially_shipped"] * 2
)


def _in_parallel(loads) -> None:
    """COPY each (model, rows) in a forked process of its own and wait."""
    connections.close_all()  # children must open their own connections
    children = []
    for model, rows in loads:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                with transaction.atomic():
                    bulk_insert(model, rows())
            except Exception:  # noqa: BLE001 - reported through the exit code
                traceback.print_exc()
                code = 1
            finally:
                connections.close_all()
                os._exit(code)
        children.append((pid, model.__name__))
    failed = [name for pid, name in children if os.waitpid(pid, 0)[1] != 0]
    if failed:
        raise RuntimeError(f"Loading {', '.join(failed)} failed (see above).")


def seed_scale(
    *,
    orders: int,
    customers: int | None = None,
    seed: int = 42,
    say: Callable[[str], None] = print,
) -> dict:
    """Add `orders` orders (and a quarter as many customers) in bulk."""
    if connection.vendor != "postgresql":
        raise RuntimeError("seed_scale needs PostgreSQL (DATABASE_URL=postgres://...).")
    rng = random.Random(seed)
    customers = customers or max(1, orders // 4)
    started = time.perf_counter()
    now = timezone.now()

    channels = [
        Channel.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})[
            0
        ]
        for code, name, kind in CHANNELS
    ]
    carriers = [
        Carrier.objects.get_or_create(
            code=code, defaults={"name": name, "tracking_url_template": url}
        )[0]
        for code, name, url in CARRIERS
    ]
    locations = [
        Location.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "country": country,
                "priority": priority,
                "ships_to": ships,
            },
        )[0]
        for code, name, country, priority, ships in [
            ("SC-RNO", "Scale Reno", "US", 10, "US,CA"),
            ("SC-NJ", "Scale Newark", "US", 20, "US"),
            ("SC-BER", "Scale Berlin", "DE", 10, "DE,AT,FR,NL,BE"),
        ]
    ]
    products = list(Product.objects.filter(sku__startswith="SCALE-"))
    if not products:
        Product.objects.bulk_create(
            Product(sku=f"SCALE-{n:04d}", name=f"Scale product {n}", weight_g=250)
            for n in range(500)
        )
        products = list(Product.objects.filter(sku__startswith="SCALE-"))
        StockLevel.objects.bulk_create(
            StockLevel(
                product=p, location=loc, bin=f"Z-{i % 40:02d}-{i % 5}", reorder_point=20
            )
            for i, p in enumerate(products)
            for loc in locations
        )
    product_info = [(p.pk, p.sku, p.name) for p in products]

    first_customer = reserve_ids(Customer, customers)[0]
    with transaction.atomic():
        bulk_insert(
            Customer,
            (
                {
                    "id": first_customer + n,
                    "email": f"shopper{first_customer + n}@scale.example",
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "phone": f"+1 555 {rng.randint(1000000, 9999999)}",
                    "accepts_marketing": False,
                    "created_at": now,
                }
                for n in range(customers)
            ),
        )
    say(f"customers: {customers} in {time.perf_counter() - started:.0f}s")

    order_ids = reserve_ids(Order, orders)
    from core.sequences import format_number, sequence_reserve

    numbers = sequence_reserve(name="order", count=orders)
    plan = []  # (order id, status, placed_at, channel id, line count)
    for n, (order_id, number) in enumerate(zip(order_ids, numbers, strict=True)):
        age = rng.random() ** 2 * 365  # more orders lately
        status = rng.choice(RECENT_STATUSES if age < 6 else OLD_STATUSES)
        plan.append(
            (
                order_id,
                number,
                status,
                now - timedelta(days=age),
                channels[n % 3].pk,
                rng.choice(LINES_PER_ORDER),
            )
        )

    def order_rows():
        for order_id, number, status, placed_at, channel_id, _ in plan:
            customer_id = first_customer + rng.randrange(customers)
            held = status == "on_hold"
            yield {
                "id": order_id,
                "number": format_number("SO", number),
                "channel_id": channel_id,
                "external_id": f"SC-{number}",
                "customer_id": customer_id,
                "status": status,
                "hold_reason": "payment" if held else "",
                "held_from": "allocated" if held else "",
                "priority": 1 if number % 17 == 0 else 0,
                "ship_name": f"Shopper {customer_id}",
                "ship_company": "",
                "ship_address1": f"{number % 999 + 1} Main St",
                "ship_address2": "",
                "ship_city": "Austin",
                "ship_region": "TX",
                "ship_postcode": "78701",
                "ship_country": "US",
                "ship_phone": "",
                "shipping_method": "Standard",
                "requested_delivery_date": None,
                "currency": "USD",
                "subtotal": Decimal("50.00"),
                "shipping_amount": Decimal("4.95"),
                "tax_amount": Decimal("0.00"),
                "total": Decimal("54.95"),
                "placed_at": placed_at,
                "created_at": placed_at,
                "updated_at": placed_at,
            }

    with transaction.atomic():
        bulk_insert(Order, order_rows())
    say(f"orders: {orders} in {time.perf_counter() - started:.0f}s")

    def line_rows():
        for order_id, _, status, _, _, count in plan:
            shipped = status in ("shipped", "delivered")
            for product_id, sku, name in rng.sample(product_info, count):
                quantity = rng.randint(1, 3)
                yield {
                    "order_id": order_id,
                    "product_id": product_id,
                    "sku": sku,
                    "name": name,
                    "quantity": quantity,
                    "unit_price": Decimal("20.00"),
                    "quantity_shipped": quantity if shipped else 0,
                    "quantity_returned": 0,
                }

    def event_rows():
        for order_id, _, _, placed_at, _, _ in plan:
            yield {
                "order_id": order_id,
                "kind": "imported",
                "message": "Loaded by seed_scale.",
                "user_id": None,
                "data": {},
                "created_at": placed_at,
            }

    shipped = [p for p in plan if p[2] in ("shipped", "delivered", "partially_shipped")]
    shipment_numbers = sequence_reserve(name="shipment", count=len(shipped))

    def shipment_rows():
        for (order_id, number, status, placed_at, _, _), shipment_number in zip(
            shipped, shipment_numbers, strict=True
        ):
            shipped_at = placed_at + timedelta(days=1)
            eta = (shipped_at + timedelta(days=3)).date()
            if status == "delivered":
                state, delivered = (
                    "delivered",
                    shipped_at + timedelta(days=rng.randint(2, 5)),
                )
            else:
                state = rng.choice(["in_transit"] * 8 + ["exception", "shipped"])
                delivered = None
            yield {
                "number": format_number("SH", shipment_number),
                "order_id": order_id,
                "location_id": locations[number % 3].pk,
                "status": state,
                "pick_list_id": None,
                "carrier_id": carriers[number % 2].pk,
                "service": "Ground",
                "tracking_number": f"1Z{number:016d}",
                "packages": 1,
                "weight_g": 750,
                "shipped_at": shipped_at,
                "estimated_delivery": eta,
                "delivered_at": delivered,
                "created_at": shipped_at,
                "updated_at": shipped_at,
            }

    # Lines, timeline entries and shipments only need the orders: load the
    # three at once, each through its own connection.
    _in_parallel(
        [(OrderLine, line_rows), (OrderEvent, event_rows), (Shipment, shipment_rows)]
    )
    say(
        f"lines, events and {len(shipped)} shipments in "
        f"{time.perf_counter() - started:.0f}s"
    )
    # Statistics for the planner, and the visibility map for index-only scans.
    with connection.cursor() as cursor:
        for model in (Customer, Order, OrderLine, OrderEvent, Shipment):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    seconds = time.perf_counter() - started
    say(f"done in {seconds:.0f}s")
    return {
        "orders": orders,
        "customers": customers,
        "shipments": len(shipped),
        "seconds": round(seconds, 1),
    }
