"""A realistic, repeatable demo data set for trying the back office.

Everything is created through the services, so stock, the ledger and the
order timelines are exactly what real use would have produced. Running it
again adds nothing that is already there.
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import Product, StockLevel
from oms.seed.catalogue import seed_catalogue, seed_users
from oms.seed.data import (
    EU_CITIES,
    FIRST,
    LAST,
    LATE_SHARE,
    LATE_SHARE_ON_HOLD,
    ORDER_COUNT,
    STREETS,
    US_CITIES,
    SeedReport,
)
from oms.seed.fulfillment import seed_fulfillment
from oms.seed.orders import journey_pick, order_walk
from oms.seed.returns import seed_returns
from oms.seed.shops import seed_api_key, seed_shops
from orders.addresses import Address
from orders.models import Channel, Order
from orders.services.orders import LineInput, customer_get_or_create, order_create
from orders.services.shipby import ShipByCalendar

# How far back orders already handed over were placed (days, at least).
PLACED_DAYS_AGO = {"delivered": 30, "shipped": 12, "cancelled": 2}


def fresh_hours(*, channels: list[Channel], now: datetime) -> float:
    """Return how many hours back an order may have been placed and still be
    due to ship today or later, whatever its channel and country: since the
    cut-off of the last working day."""
    calendar = ShipByCalendar.load()
    today = timezone.localdate(now)
    countries = {"US"} | {country for *_, country in EU_CITIES}
    hours = 0
    while hours < 24 * 7:
        placed_at = now - timedelta(hours=hours + 1)
        if any(
            calendar.ship_by(
                placed_at=placed_at,
                country=country,
                cutoff=channel.cutoff_time,
                handling_days=channel.handling_days,
            )
            < today
            for channel in channels
            for country in countries
        ):
            break
        hours += 1
    return max(hours, 1)


def products_in_stock(products: list[Product], *, country: str) -> list[Product]:
    """Return the products with a few units free at an active location that
    ships to `country` (one query): orders handed over weeks ago had their
    stock, or they would still be waiting, late to ship."""
    levels = StockLevel.objects.filter(
        product__in=products, location__active=True, on_hand__gte=F("allocated") + 5
    ).filter(Q(location__ships_to="") | Q(location__ships_to__contains=country))
    stocked = set(levels.values_list("product_id", flat=True))
    return [product for product in products if product.pk in stocked] or products


def placed_at_pick(
    target: str, *, rng: random.Random, now: datetime, fresh: float
) -> datetime:
    """When a demo order came in: handed-over ones days or weeks ago, those
    still to ship since the last cut-off (a normal working day), a handful of
    them earlier, late to ship."""
    if target in PLACED_DAYS_AGO:
        days_ago = PLACED_DAYS_AGO[target]
        return now - timedelta(days=rng.uniform(days_ago, days_ago * 1.5 + 1))
    late = LATE_SHARE_ON_HOLD if target == "on_hold" else LATE_SHARE
    if rng.random() < late:
        return now - timedelta(hours=fresh + rng.uniform(6, 60))
    return now - timedelta(hours=rng.uniform(0, fresh))


def seed_demo(*, seed: int = 2026) -> SeedReport:
    """Create the demo data set; anything already present is left alone."""
    rng = random.Random(seed)
    report = SeedReport()
    with transaction.atomic():
        users = seed_users(report)
        products = seed_catalogue(rng, users["manager"], report)
        seed_shops(products=products)
    channels = list(Channel.objects.order_by("code"))
    now = timezone.now()
    fresh = fresh_hours(channels=channels, now=now)
    existing = set(Order.objects.values_list("channel__code", "external_id"))
    journeys: list[tuple[Order, str]] = []
    for n in range(1, ORDER_COUNT + 1):
        channel = channels[n % len(channels)]
        external_id = f"{channel.code[:3].upper()}-{10000 + n}"
        target = journey_pick(rng)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        eu = rng.random() < 0.3
        choice = products
        if target in ("shipped", "delivered"):
            choice = products_in_stock(products, country="DE" if eu else "US")
        picked = rng.sample(choice, k=min(len(choice), rng.choice([1, 1, 2, 2, 3, 4])))
        quantities = [rng.choice([1, 1, 1, 2, 3]) for _ in picked]
        placed_at = placed_at_pick(target, rng=rng, now=now, fresh=fresh)
        if (channel.code, external_id) in existing:
            report.orders_existing += 1
            continue
        if eu:
            city, region, postcode, country = rng.choice(EU_CITIES)
        else:
            city, region, postcode = rng.choice(US_CITIES)
            country = "US"
        email = f"{first}.{last}.{n % 97}@example.com".lower()
        customer = customer_get_or_create(email=email, name=f"{first} {last}")
        order = order_create(
            channel=channel,
            customer=customer,
            external_id=external_id,
            address=Address(
                name=f"{first} {last}",
                address1=f"{rng.randint(1, 400)} {rng.choice(STREETS)}",
                city=city,
                region=region,
                postcode=postcode,
                country=country,
                phone=f"+1 555 {rng.randint(1000000, 9999999)}" if not eu else "",
            ),
            lines=[
                LineInput(product=p, quantity=q, unit_price=p.demo_price)
                for p, q in zip(picked, quantities, strict=True)
            ],
            actor=users["service"] if channel.code == "phone" else None,
            placed_at=placed_at,
            currency="EUR" if eu else "USD",
            shipping_amount=Decimal("4.95") if sum(quantities) < 3 else Decimal("0.00"),
            tax_amount=Decimal("0.00"),
            shipping_method="Standard" if rng.random() < 0.8 else "Express",
            priority=Order.Priority.HIGH
            if rng.random() < 0.1
            else Order.Priority.NORMAL,
            # "Pending" orders are the ones that just arrived, not yet routed.
            allocate=target != "pending",
            source="demo",
        )
        if order_walk(order, target, rng, users):
            journeys.append((order, target))
        report.orders_created += 1
    seed_fulfillment(journeys, rng, users)
    seed_returns(users)
    report.api_channel, report.api_key = seed_api_key()
    report.api_sku = products[0].sku
    return report
