"""A realistic, repeatable demo data set for trying the back office.

Everything is created through the services, so stock, the ledger and the
order timelines are exactly what real use would have produced. Running it
again adds nothing that is already there.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fulfillment import documents
from fulfillment.models import Carrier, DocumentKind, Shipment
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.printing import document_print_record
from fulfillment.services.shipping import shipment_ship
from fulfillment.services.tracking import tracking_event_record
from inventory.models import Location, Product, StockLevel
from inventory.services import stock_receive
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE, roles_setup
from orders.addresses import Address
from orders.models import Channel, HoldReason, Order, OrderStatus
from orders.services.lifecycle import order_cancel, order_hold
from orders.services.orders import LineInput, customer_get_or_create, order_create
from returns import selectors as return_selectors
from returns.models import ReturnReason, ReturnRequest
from returns.services import refunds as refund_services
from returns.services import returns as return_services

DEMO_USERS = [
    # username, password, role (None = superuser)
    ("admin", "oms-demo-admin", None),
    ("warehouse", "oms-demo-warehouse", WAREHOUSE),
    ("service", "oms-demo-service", CUSTOMER_SERVICE),
    ("manager", "oms-demo-manager", MANAGER),
]

CHANNELS = [
    ("web", "Web shop", Channel.Kind.WEB, True),
    ("marketplace", "Marketplace", Channel.Kind.MARKETPLACE, False),
    ("phone", "Phone orders", Channel.Kind.PHONE, True),
]

LOCATIONS = [
    # code, name, kind, country, priority, ships_to, address, bin prefix
    (
        "RNO",
        "Reno warehouse",
        Location.Kind.WAREHOUSE,
        "US",
        10,
        "US CA",
        "1200 Logistics Way\nReno, NV 89502\nUnited States",
        "A",
    ),
    (
        "BKN",
        "Brooklyn store",
        Location.Kind.STORE,
        "US",
        20,
        "US",
        "85 Wythe Ave\nBrooklyn, NY 11249\nUnited States",
        "S",
    ),
    (
        "BER",
        "Berlin 3PL",
        Location.Kind.THIRD_PARTY,
        "DE",
        10,
        "DE AT BE DK ES FR IE IT NL PL PT SE GB",
        "Lagerstraße 7\n12099 Berlin\nGermany",
        "B",
    ),
]

PRODUCT_FAMILIES = [
    (
        "TSH",
        "Merino T-shirt",
        ["BLK", "NVY", "GRY"],
        ["S", "M", "L", "XL"],
        "34.00",
        180,
    ),
    (
        "HOO",
        "Organic cotton hoodie",
        ["BLK", "OAT"],
        ["S", "M", "L", "XL"],
        "79.00",
        620,
    ),
    ("SCK", "Hiking socks (2-pack)", ["GRY", "GRN"], ["M", "L"], "18.50", 120),
    ("CAP", "Waxed canvas cap", ["OLV", "BRN"], ["OS"], "29.00", 110),
    ("BTL", "Insulated bottle 750 ml", ["STL", "BLU", "RED"], ["OS"], "32.00", 400),
    ("BAG", "Roll-top backpack 22 l", ["BLK", "SND"], ["OS"], "129.00", 950),
    ("JKT", "Packable rain jacket", ["BLK", "YLW"], ["S", "M", "L"], "149.00", 420),
    ("MUG", "Enamel camp mug", ["WHT", "BLU"], ["OS"], "16.00", 260),
    ("BLT", "Leather belt", ["BRN", "BLK"], ["90", "100"], "45.00", 200),
    ("GLV", "Merino liner gloves", ["BLK", "GRY"], ["S", "M", "L"], "24.00", 60),
    ("TNT", "Ultralight tent 2p", ["GRN"], ["OS"], "349.00", 1450),
    ("LMP", "Rechargeable headlamp", ["BLK", "ORG"], ["OS"], "39.00", 90),
    ("PNT", "Trail pants", ["BLK", "KHK"], ["S", "M", "L"], "89.00", 380),
    ("BNE", "Rib-knit beanie", ["GRY", "RED", "NVY"], ["OS"], "22.00", 80),
]

FIRST = [
    "Ada",
    "Ben",
    "Chloé",
    "Dev",
    "Ewa",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Malik",
    "Nora",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Adams",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Müller",
    "Nguyen",
    "Okafor",
    "Petrov",
]
US_CITIES = [
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Seattle", "WA", "98101"),
    ("Chicago", "IL", "60601"),
    ("Boston", "MA", "02108"),
    ("Portland", "OR", "97201"),
]
EU_CITIES = [
    ("Hamburg", "", "20095", "DE"),
    ("München", "", "80331", "DE"),
    ("Wien", "", "1010", "AT"),
    ("Lyon", "", "69001", "FR"),
    ("Amsterdam", "", "1012", "NL"),
    ("København", "", "1050", "DK"),
]
STREETS = [
    "Main St",
    "Oak Avenue",
    "Hauptstraße",
    "Rue de la Paix",
    "Elm Road",
    "Keizersgracht",
]

ORDER_COUNT = 320
# Share of orders taken to each end state, by how far along they are.
JOURNEY = [
    ("delivered", 0.22),
    ("shipped", 0.16),
    ("packed", 0.08),
    ("picking", 0.08),
    ("on_hold", 0.06),
    ("cancelled", 0.06),
    ("pending", 0.02),
    ("allocated", 0.32),
]


FULFILMENT_TARGETS = {"picking", "packed", "shipped", "delivered"}
# Orders per pick list wave.
WAVE_SIZE = 16
CARRIERS = [
    # code, name, tracking URL template, services
    (
        "pex",
        "Parcel Express",
        "https://track.example.com/parcel-express/{tracking}",
        "Ground, Express",
    ),
    (
        "swift",
        "Swift Post",
        "https://swiftpost.example.org/track?number={tracking}",
        "Standard, Priority",
    ),
]


@dataclass
class SeedReport:
    users_created: list[tuple[str, str, str]] = field(default_factory=list)
    products: int = 0
    orders_created: int = 0
    orders_existing: int = 0


def _users(report: SeedReport) -> dict[str, object]:
    groups = roles_setup()
    user_model = get_user_model()
    users = {}
    for username, password, role in DEMO_USERS:
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(
                username=username,
                email=f"{username}@oms.example",
                is_staff=True,
                is_superuser=role is None,
                first_name=(role or "Administrator").split()[0],
            )
            user.set_password(password)
            user.save()
            report.users_created.append((username, password, role or "superuser"))
        if role:
            user.groups.add(groups[role])
        users[username] = user
    return users


def _catalogue(rng: random.Random, actor, report: SeedReport) -> list[Product]:
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
                        "barcode": f"40{index:011d}",
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


def _journey(rng: random.Random) -> str:
    roll = rng.random()
    for state, share in JOURNEY:
        if roll < share:
            return state
        roll -= share
    return "allocated"


def _walk(order: Order, target: str, rng: random.Random, users: dict) -> bool:
    """Take an order towards its end state; return True when the warehouse
    still has to take it further (pick lists, packing, shipping)."""
    service = users["service"]
    S = OrderStatus
    if target == "cancelled":
        order_cancel(order=order, actor=service, reason="Customer changed their mind")
        return False
    if target == "on_hold":
        reason = rng.choice(
            [HoldReason.ADDRESS_CHECK, HoldReason.PAYMENT, HoldReason.FRAUD_REVIEW]
        )
        if order.status in (S.PENDING, S.ALLOCATED, S.BACKORDERED):
            order_hold(order=order, actor=service, reason=reason, note="Demo hold")
        return False
    return target in FULFILMENT_TARGETS and order.status == S.ALLOCATED


def _carriers() -> list[Carrier]:
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


def _fulfil(journeys: list[tuple[Order, str]], rng: random.Random, users: dict) -> None:
    """The warehouse's day: waves of pick lists, packing, shipping, delivery.

    Orders are picked in waves (one pick list per location per wave); the
    waves still being picked get their pick list printed, as a picker would.
    Every tenth shipped order ships one unit short, so the rest waits in a
    pending shipment and the order is partially shipped.
    """
    warehouse = users["warehouse"]
    carriers = _carriers()
    for start in range(0, len(journeys), WAVE_SIZE):
        wave = journeys[start : start + WAVE_SIZE]
        target_of = {order.pk: target for order, target in wave}
        made = pick_lists_create(order_ids=list(target_of), actor=warehouse)
        # Every other wave still being picked has its pick list printed.
        printed = (start // WAVE_SIZE) % 2 == 0
        if printed and any(target == "picking" for target in target_of.values()):
            pick_list_ids = [p.pk for p in made.pick_lists]
            rendered = documents.render(DocumentKind.PICK_LIST, pick_list_ids)
            document_print_record(
                kind=DocumentKind.PICK_LIST,
                actor=warehouse,
                pick_list_ids=pick_list_ids,
                pages=rendered.pages,
            )
        shipments = Shipment.objects.filter(pick_list__in=made.pick_lists).order_by(
            "number"
        )
        for n, shipment in enumerate(shipments):
            target = target_of[shipment.order_id]
            if target == "picking":
                continue
            shipment_pack(shipment=shipment, actor=warehouse, packages=1 + (n % 7 == 0))
            if target == "packed":
                continue
            carrier = carriers[n % len(carriers)]
            lines = list(shipment.lines.all())
            short = None
            if n % 10 == 3 and any(line.quantity > 1 for line in lines):
                short = {
                    line.order_line_id: line.quantity - (line.quantity > 1)
                    for line in lines
                }
            shipped_at = shipment.order.placed_at + timedelta(hours=20)
            shipment = shipment_ship(
                shipment=shipment,
                actor=warehouse,
                carrier=carrier,
                service=carrier.service_list[n % len(carrier.service_list)],
                tracking_number=f"{carrier.code.upper()}{rng.randint(10**9, 10**10 - 1)}"
                f"{shipment.pk:05d}",
                estimated_delivery=(shipped_at + timedelta(days=3)).date(),
                quantities=short,
            )
            # The demo ships in one go today; date the hand-over back to the
            # day after the order came in, so tracking follows in order.
            Shipment.objects.filter(pk=shipment.pk).update(shipped_at=shipped_at)
            _track(shipment, shipped_at, delivered=target == "delivered")


# Problems the demo's carriers report, in turn.
DEMO_PROBLEMS = [
    ("address", "Recipient unknown at this address"),
    ("damaged", "Parcel damaged in transit, being repacked"),
    ("delayed", "Missed connection at the hub"),
    ("lost", "No scan for several days; search opened"),
]
_tracked = {"delivered": 0, "on_the_way": 0}


def _track(shipment: Shipment, shipped_at, *, delivered: bool) -> None:
    """A carrier's scans for a shipped parcel: delivered ones arrive (some
    after a delay), the others are on their way, late, out for delivery,
    delayed to a new date or stuck with a problem."""
    journey = "delivered" if delivered else "on_the_way"
    n = _tracked[journey] = _tracked[journey] + 1
    if not delivered and n % 5 == 4:
        return  # Handed over, never scanned since: still "shipped", and late.
    now = timezone.now()
    today = timezone.localdate()
    city = shipment.order.ship_city

    def scan(status, at, **fields):
        tracking_event_record(
            shipment=shipment,
            status=status,
            occurred_at=min(at, now),
            actor=None,
            source="carrier",
            **fields,
        )

    scan(
        "in_transit",
        shipped_at + timedelta(hours=6),
        place=shipment.location.name,
        description="Picked up by the carrier",
    )
    if delivered:
        if n % 6 == 0:
            scan(
                "exception",
                shipped_at + timedelta(days=1, hours=3),
                exception_reason="delayed",
                description="Held at the hub by bad weather",
                estimated_delivery=(shipped_at + timedelta(days=4)).date(),
            )
        scan(
            "out_for_delivery",
            shipped_at + timedelta(days=2, hours=8),
            place=city,
            description="With the driver",
        )
        scan(
            "delivered",
            shipped_at + timedelta(days=2, hours=14),
            place=city,
            description="Left with the customer",
        )
        return
    if n % 5 == 0:
        reason, description = DEMO_PROBLEMS[(n // 5) % len(DEMO_PROBLEMS)]
        scan(
            "exception",
            now - timedelta(days=1),
            exception_reason=reason,
            description=description,
            place=city,
        )
    elif n % 5 == 1:
        pass  # No news since pick-up: past its estimated delivery, so late.
    elif n % 5 == 2:
        scan(
            "out_for_delivery",
            now - timedelta(hours=2),
            place=city,
            description="With the driver",
            estimated_delivery=today,
        )
    else:
        scan(
            "in_transit",
            now - timedelta(days=1),
            place="Regional hub",
            description="Delayed at the hub",
            estimated_delivery=today + timedelta(days=2),
        )


# How far each demo return goes, one per delivered order (the first ones by
# number), so every state of a return is there to look at or take further.
RETURN_JOURNEYS = [
    "requested",
    "requested",
    "requested",
    "approved",
    "approved",
    "approved",
    "rejected",
    "rejected",
    "received",
    "received",
    "inspected",
    "inspected",
    "refund_pending",
    "refunded",
    "refunded",
    "refunded",
    "exchanged",
    "exchanged",
    "closed",
    "closed",
]


def _return_walk(order: Order, target: str, index: int, users: dict) -> None:
    """Open a return on a delivered order and take it to `target`."""
    service, warehouse, manager = users["service"], users["warehouse"], users["manager"]
    reasons = ReturnReason.values
    lines = list(order.lines.all())
    chosen = lines[: 1 + (index % 3 == 0)]
    rma = return_services.return_open(
        order=order,
        lines=[
            return_services.ReturnLineInput(
                order_line=line,
                quantity=line.quantity_shipped if index % 2 else 1,
                reason=reasons[(index + n) % len(reasons)],
            )
            for n, line in enumerate(chosen)
        ],
        actor=service,
        note="Demo return",
        resolution="exchange" if target == "exchanged" else "refund",
    )
    if target == "requested":
        return
    if target == "rejected":
        return_services.return_reject(
            return_request=rma,
            actor=service,
            message="The return window of 30 days has passed.",
        )
        return
    return_services.return_approve(return_request=rma, actor=service)
    if target == "approved":
        return
    # One parcel in four arrives a unit short.
    return_services.return_receive(
        return_request=rma,
        actor=warehouse,
        quantities={
            line.pk: line.quantity - (index % 4 == 1 and line.quantity > 1)
            for line in rma.lines.all()
        },
    )
    if target == "received":
        return
    location = return_selectors.return_location(order=order)
    return_services.return_inspect(
        return_request=rma,
        actor=warehouse,
        inspections={
            line.pk: return_services.Inspection(
                condition="damaged" if target == "closed" else "resellable",
                location=location,
            )
            for line in rma.lines.all()
        },
    )
    if target == "closed":
        return_services.return_close(
            return_request=rma, actor=service, note="Damaged by the customer."
        )
    elif target == "exchanged":
        return_services.return_exchange(return_request=rma, actor=service)
    elif target in ("refund_pending", "refunded"):
        refund = refund_services.refund_create(
            order=order,
            return_request=rma,
            line_quantities={
                line.order_line_id: line.quantity_received for line in rma.lines.all()
            },
            shipping=index % 2 == 0 and order.shipping_amount > 0,
            reason="Demo refund",
            actor=service,
        )
        if target == "refunded":
            refund_services.refund_approve(
                refund=refund,
                actor=manager,
                external_reference=f"DEMO-PAY-{rma.number}",
            )


def _returns(users: dict) -> None:
    """Returns on the first delivered orders, in every state of a return."""
    delivered = list(
        Order.objects.filter(status=OrderStatus.DELIVERED)
        .exclude(channel__code="marketplace")
        .order_by("number")[: len(RETURN_JOURNEYS)]
    )
    with_returns = set(
        ReturnRequest.objects.filter(order__in=delivered).values_list(
            "order_id", flat=True
        )
    )
    for index, (order, target) in enumerate(
        zip(delivered, RETURN_JOURNEYS, strict=False)
    ):
        if order.pk not in with_returns:
            _return_walk(order, target, index, users)


def seed_demo(*, seed: int = 2026) -> SeedReport:
    """Create the demo data set; anything already present is left alone."""
    rng = random.Random(seed)
    report = SeedReport()
    with transaction.atomic():
        users = _users(report)
        products = _catalogue(rng, users["manager"], report)
    channels = list(Channel.objects.order_by("code"))
    now = timezone.now()
    existing = set(Order.objects.values_list("channel__code", "external_id"))
    journeys: list[tuple[Order, str]] = []
    for n in range(1, ORDER_COUNT + 1):
        channel = channels[n % len(channels)]
        external_id = f"{channel.code[:3].upper()}-{10000 + n}"
        target = _journey(rng)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        eu = rng.random() < 0.3
        picked = rng.sample(products, k=rng.choice([1, 1, 2, 2, 3, 4]))
        quantities = [rng.choice([1, 1, 1, 2, 3]) for _ in picked]
        days_ago = {"delivered": 30, "shipped": 12, "packed": 4, "picking": 3}.get(
            target, 2
        )
        placed_at = now - timedelta(days=rng.uniform(days_ago, days_ago * 1.5 + 1))
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
        if _walk(order, target, rng, users):
            journeys.append((order, target))
        report.orders_created += 1
    _fulfil(journeys, rng, users)
    _returns(users)
    return report
