"""Demo fulfilment: pick-list waves, packing, shipping and the carriers' scans."""

import random
from datetime import timedelta

from django.utils import timezone

from fulfillment import documents
from fulfillment.models import DocumentKind, Shipment
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.printing import document_print_record
from fulfillment.services.shipping import shipment_ship
from fulfillment.services.tracking import tracking_event_record
from oms.seed.catalogue import seed_carriers
from oms.seed.data import SHIP_HOURS, WAVE_SIZE
from orders.models import Order


def seed_fulfillment(
    journeys: list[tuple[Order, str]], rng: random.Random, users: dict
) -> None:
    """The warehouse's day: waves of pick lists, packing, shipping, delivery.

    Orders are picked in waves (one pick list per location per wave); the
    waves still being picked get their pick list printed, as a picker would.
    Every twentieth shipped order ships one unit short, so the rest waits in a
    pending shipment and the order is partially shipped.
    """
    warehouse = users["warehouse"]
    carriers = seed_carriers()
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
        shipments = (
            Shipment.objects.filter(pick_list__in=made.pick_lists)
            .select_related("order__channel")
            .order_by("number")
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
            if n % 20 == 3 and any(line.quantity > 1 for line in lines):
                short = {
                    line.order_line_id: line.quantity - (line.quantity > 1)
                    for line in lines
                }
            order = shipment.order
            hours = SHIP_HOURS.get(order.channel.code, 24) * rng.uniform(0.7, 1.3)
            shipped_at = order.placed_at + timedelta(hours=hours)
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
            # channel's usual time after the order came in, so tracking
            # follows in order.
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
    if not delivered and n % 10 == 4:
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
    # A parcel in ten on its way has a problem, one has no news and one has
    # not been scanned since the hand-over (above): a normal day's handful.
    if n % 10 == 0:
        reason, description = DEMO_PROBLEMS[(n // 10 - 1) % len(DEMO_PROBLEMS)]
        scan(
            "exception",
            now - timedelta(days=1),
            exception_reason=reason,
            description=description,
            place=city,
        )
    elif n % 10 == 1:
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
            description="Sorted at the regional hub",
            estimated_delivery=today + timedelta(days=2),
        )


# How far each demo return goes, one per delivered order (the first ones by
# number), so every state of a return is there to look at or take further.
