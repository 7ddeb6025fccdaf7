"""Handing a shipment to its carrier and taking it back, on rows the caller
has locked (its order, then the shipment): the steps both the Ship services
(`fulfillment.services.shipping`) and postage (a bought label ships the
shipment, a voided one takes the shipping back: `fulfillment.postage`) take,
so neither imports the other. Also the check of the carrier, service and
tracking number a shipment leaves with, and shipment numbers.
"""

from collections.abc import Mapping, Sequence
from datetime import date

from django.utils import timezone
from django.utils.translation import ngettext
from django_fsm import can_proceed

from core.sequences import format_number, sequence_reserve
from core.users import Actor
from fulfillment import notifications
from fulfillment.exceptions import FulfillmentError, ShipmentStateError
from fulfillment.models import Carrier, Shipment, ShipmentLine, ShipmentStatus
from inventory.models import Allocation, StockLevel
from inventory.services import stock_consume, stock_consume_reverse
from orders import events as order_events
from orders.models import Order
from orders.services import lifecycle as order_lifecycle

SHIPMENT_PREFIX = "SH"
# What handing a shipment over (or taking it back) changes on the shipment.
HANDOVER_FIELDS = [
    "status",
    "carrier",
    "service",
    "tracking_number",
    "shipped_at",
    "estimated_delivery",
    "updated_at",
]


def shipment_numbers_reserve(*, count: int = 1) -> list[str]:
    """Reserve the next `count` shipment numbers (SH-…)."""
    return [
        format_number(SHIPMENT_PREFIX, value)
        for value in sequence_reserve(name="shipment", count=count)
    ]


def check_carrier(
    *, shipment: Shipment, carrier: Carrier | None, service: str, tracking: str
) -> None:
    """Refuse a carrier, service or tracking number a shipment cannot leave
    with: an inactive carrier, a service it does not offer, no tracking
    number, or one already on another shipment."""
    if carrier is None:
        if tracking or service:
            raise FulfillmentError(
                f"Shipment {shipment.number}: choose the carrier of tracking "
                f"number {tracking or '(none)'} and service {service or '(none)'}."
            )
        return
    if not carrier.active:
        raise FulfillmentError(
            f"Carrier {carrier.name} is inactive; choose another carrier for "
            f"shipment {shipment.number}."
        )
    if service and carrier.service_list and service not in carrier.service_list:
        raise FulfillmentError(
            f"{carrier.name} has no service {service!r}; it offers "
            + ", ".join(carrier.service_list)
            + "."
        )
    if not tracking:
        raise FulfillmentError(
            f"Shipment {shipment.number}: give the {carrier.name} tracking number."
        )
    used = (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking)
        .exclude(pk=shipment.pk)
        .values_list("number", flat=True)
        .first()
    )
    if used:
        raise FulfillmentError(
            f"{carrier.name} tracking number {tracking} is already on shipment "
            f"{used}; check the label and enter the right number for "
            f"{shipment.number}."
        )


def shipment_ship_locked(
    *,
    order: Order,
    shipment: Shipment,
    actor: Actor,
    carrier: Carrier | None = None,
    service: str = "",
    tracking_number: str = "",
    estimated_delivery: date | None = None,
    quantities: Mapping[int, int] | None = None,
) -> Order:
    """Ship a locked shipment of a locked order; return the order as it is now."""
    if not can_proceed(shipment.ship):
        raise ShipmentStateError.refuse(
            shipment,
            "shipped",
            "Pack it first."
            if shipment.status in (ShipmentStatus.PENDING, ShipmentStatus.PICKING)
            else "",
        )
    service, tracking_number = service.strip(), tracking_number.strip()
    check_carrier(
        shipment=shipment, carrier=carrier, service=service, tracking=tracking_number
    )
    lines = list(shipment.lines.select_related("order_line"))
    leaving = {line.order_line_id: line.quantity for line in lines}
    if quantities is not None:
        for line in lines:
            wanted = quantities.get(line.order_line_id, 0)
            if not isinstance(wanted, int) or not 0 <= wanted <= line.quantity:
                raise FulfillmentError(
                    f"Shipment {shipment.number}: ship between 0 and {line.quantity} "
                    f"of {line.order_line.sku}, not {wanted}."
                )
            leaving[line.order_line_id] = wanted
    if not any(leaving.values()):
        raise FulfillmentError(f"Shipment {shipment.number} would ship nothing.")
    allocations = {
        allocation.order_line_id: allocation
        for allocation in Allocation.objects.filter(
            order_line_id__in=list(leaving),
            stock_level__location_id=shipment.location_id,
        )
    }
    for line in lines:
        reserved = getattr(allocations.get(line.order_line_id), "quantity", 0)
        if leaving[line.order_line_id] > reserved:
            raise FulfillmentError(
                f"Shipment {shipment.number}: only {reserved} of "
                f"{line.order_line.sku} are reserved at {shipment.location.code}, "
                f"not {leaving[line.order_line_id]}. Re-allocate the order first."
            )
    stock_consume(
        allocations=[
            (allocations[line_id], quantity)
            for line_id, quantity in leaving.items()
            if quantity
        ],
        actor=actor,
        reference=shipment.number,
    )
    rest = {
        line.order_line_id: line.quantity - leaving[line.order_line_id]
        for line in lines
        if line.quantity > leaving[line.order_line_id]
    }
    if rest:
        shipment_split_rest(
            shipment=shipment, lines=lines, leaving=leaving, rest=rest, actor=actor
        )
    shipment.ship(carrier, service, tracking_number, timezone.now(), estimated_delivery)
    shipment.save(update_fields=HANDOVER_FIELDS)
    order = order_lifecycle.order_shipment_record(
        order=order,
        actor=actor,
        shipped={line_id: qty for line_id, qty in leaving.items() if qty},
        reference=shipment.number
        + (f" ({carrier.name} {tracking_number})" if carrier else ""),
    )
    notifications.shipment_shipped_notify(shipment=shipment)
    return order


def shipment_unship_locked(
    *, order: Order, shipment: Shipment, actor: Actor, why: str
) -> Order:
    """The exact reverse of `shipment_ship_locked` (without a split) for a locked shipment of
    a locked order that did not leave after all: its units go back on the
    shelf at its location, reserved for their lines again (opposite stock
    movements), the order lines count them as not shipped, the order goes
    back to where it was and the shipment is packed again, without carrier
    or tracking number. The customer e-mail and the channel's news already
    sent are not taken back; shipped again, the customer is mailed the new
    tracking number."""
    if not can_proceed(shipment.unship):
        raise ShipmentStateError.refuse(
            shipment, "taken back", "Only a shipment that shipped is taken back."
        )
    lines = list(shipment.lines.select_related("order_line"))
    levels = dict(
        StockLevel.objects.filter(
            location_id=shipment.location_id,
            product_id__in=[line.order_line.product_id for line in lines],
        ).values_list("product_id", "pk")
    )
    stock_consume_reverse(
        returns=[
            (line.order_line_id, levels[line.order_line.product_id], line.quantity)
            for line in lines
        ],
        actor=actor,
        reference=shipment.number,
        note=why,
    )
    was = (shipment.carrier, shipment.tracking_number)
    shipment.unship()
    shipment.save(update_fields=HANDOVER_FIELDS)
    others_open = (
        Shipment.objects.filter(
            order_id=order.pk,
            status__in=[ShipmentStatus.PENDING, ShipmentStatus.PICKING],
        )
        .exclude(pk=shipment.pk)
        .exists()
    )
    return order_lifecycle.order_shipment_reverse(
        order=order,
        actor=actor,
        unshipped={line.order_line_id: line.quantity for line in lines},
        reference=shipment.number
        + (f" ({was[0].name} {was[1]})" if was[0] else "")
        + (f": {why}" if why else ""),
        others_open=others_open,
    )


def shipment_split_rest(
    *,
    shipment: Shipment,
    lines: Sequence[ShipmentLine],
    leaving: Mapping[int, int],
    rest: Mapping[int, int],
    actor: Actor,
) -> Shipment:
    """Move what does not leave now into a new pending shipment (still reserved)."""
    remainder = Shipment.objects.create(
        number=shipment_numbers_reserve()[0],
        order_id=shipment.order_id,
        location_id=shipment.location_id,
    )
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=remainder, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in rest.items()
    )
    for line in lines:
        if leaving[line.order_line_id] == 0:
            line.delete()
        elif line.order_line_id in rest:
            ShipmentLine.objects.filter(pk=line.pk).update(
                quantity=leaving[line.order_line_id]
            )
    order_events.order_event_fulfillment(
        order=shipment.order,
        actor=actor,
        message=ngettext(
            "%(count)d unit of shipment %(shipment)s stays reserved",
            "%(count)d units of shipment %(shipment)s stay reserved",
            sum(rest.values()),
        )
        % {"count": sum(rest.values()), "shipment": shipment.number}
        + f" at {shipment.location.code} in new shipment {remainder.number}, "
        "for a later pick list.",
        data={"shipment": shipment.number, "remainder": remainder.number},
    )
    return remainder
