"""Demo logins, channels, locations, products with stock, and carriers."""

import random
from decimal import Decimal

from django.contrib.auth import get_user_model

from fulfillment.models import Carrier
from inventory.models import Location, Product, StockLevel
from inventory.services import stock_receive
from oms.roles import roles_setup
from oms.seed.data import (
    CARRIERS,
    CHANNELS,
    DEMO_USER_NAMES,
    DEMO_USERS,
    LOCATIONS,
    PRODUCT_FAMILIES,
    SeedReport,
)
from orders.models import Channel


def seed_users(report: SeedReport) -> dict[str, object]:
    groups = roles_setup()
    user_model = get_user_model()
    users = {}
    for username, password, role in DEMO_USERS:
        first_name, last_name = DEMO_USER_NAMES[username]
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(
                username=username,
                email=f"{username}@oms.example",
                is_staff=True,
                is_superuser=role is None,
                first_name=first_name,
                last_name=last_name,
            )
            user.set_password(password)
            user.save()
            report.users_created.append((username, password, role or "superuser"))
        elif (
            not user.last_name
            and user.first_name == (role or "Administrator").split()[0]
        ):
            # Seeded before demo users had names: the role was their name.
            user.first_name, user.last_name = first_name, last_name
            user.save(update_fields=["first_name", "last_name"])
        if role:
            user.groups.add(groups[role])
        users[username] = user
    return users


def ean13(base: int) -> str:
    """Return a valid EAN-13 (GTIN) of a 12-digit number: its check digit added."""
    digits = f"{base:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str(-total % 10)


def seed_catalogue(rng: random.Random, actor, report: SeedReport) -> list[Product]:
    channels_locations = []
    for code, name, kind, mails in CHANNELS:
        Channel.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "send_customer_emails": mails},
        )
    for code, name, kind, country, priority, ships_to, address, _ in LOCATIONS:
        location, _ = Location.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "country": country,
                "priority": priority,
                "ships_to": ships_to,
                "address": address,
            },
        )
        channels_locations.append(location)
    locations = {loc.code: loc for loc in channels_locations}
    bin_prefix = {row[0]: row[7] for row in LOCATIONS}

    products = []
    index = 0
    for family, title, colours, sizes, price, weight in PRODUCT_FAMILIES:
        for colour in colours:
            for size in sizes:
                index += 1
                sku = f"{family}-{colour}-{size}"
                product, created = Product.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "name": f"{title}, {colour.title()}"
                        + ("" if size == "OS" else f", {size}"),
                        "barcode": ean13(400_000_000_000 + index),
                        "weight_g": weight,
                    },
                )
                product.demo_price = Decimal(price)
                products.append(product)
                if not created:
                    continue
                # Mostly well stocked; every eleventh scarce, every seventeenth sold out.
                for code, location in locations.items():
                    if index % 17 == 0:
                        quantity = 0
                    elif index % 11 == 0:
                        quantity = rng.randint(0, 2)
                    else:
                        quantity = (
                            rng.randint(20, 90) if code != "BKN" else rng.randint(0, 10)
                        )
                    StockLevel.objects.get_or_create(
                        product=product,
                        location=location,
                        defaults={
                            "bin": f"{bin_prefix[code]}-{index % 20 + 1:02d}-{index % 4 + 1}",
                            "reorder_point": 5 if code != "BKN" else 2,
                        },
                    )
                    if quantity:
                        stock_receive(
                            product=product,
                            location=location,
                            quantity=quantity,
                            actor=actor,
                            reference="PO-DEMO-OPENING",
                            note="Opening stock",
                        )
    report.products = len(products)
    return products


def seed_carriers() -> list[Carrier]:
    carriers = []
    for code, name, template, offered in CARRIERS:
        carrier, _ = Carrier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "tracking_url_template": template,
                "services": offered,
            },
        )
        carriers.append(carrier)
    return carriers
