"""Tracking and delivery: what carriers report moves shipments along.

Every update, whether typed in the admin, uploaded as CSV or posted by a
carrier, goes through `tracking_event_record`: lock (order, then shipment),
check, record the event, move the shipment (in transit, exception with its
reason, delivered) and its estimated delivery, write the order timeline,
and tell the customer and the sales channel after commit. The order is
delivered when its last shipment is (`shipment_deliver`, which the order
page's "Mark delivered" runs too).

Events may arrive late or twice: a duplicate (same shipment, status and
time) is ignored, and an event older than the newest one is kept in the
history without moving the shipment back.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import can_proceed

from core.users import Actor
from fulfillment import notifications
from fulfillment.exceptions import FulfillmentError, ShipmentStateError, TrackingError
from fulfillment.handover import check_carrier
from fulfillment.locks import lock_order_shipments, lock_shipment
from fulfillment.models import (
    DISPATCHED_STATUSES,
    Carrier,
    ExceptionReason,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from fulfillment.selectors import order_with_channel
from orders import events as order_events
from orders.locks import lock_order
from orders.models import Order, OrderStatus
from orders.services import lifecycle as order_lifecycle


@dataclass(frozen=True)
class TrackingUpdate:
    """One carrier scan, before it is matched to a shipment."""

    tracking_number: str
    status: str
    occurred_at: datetime
    place: str = ""
    description: str = ""
    estimated_delivery: date | None = None
    exception_reason: str = ""
    # Where it came from, for messages: "Line 3", "events[1]".
    where: str = ""


@dataclass
class TrackingReport:
    recorded: list[TrackingEvent] = field(default_factory=list)
    duplicates: int = 0


def future_tolerance() -> timedelta:
    """Return how far ahead of now a scan may be dated (clocks and zones err)."""
    tolerance = getattr(settings, "OMS_TRACKING_FUTURE_TOLERANCE", 24 * 3600)
    if isinstance(tolerance, timedelta):
        return tolerance
    return timedelta(seconds=float(tolerance))


def _tolerance_text(tolerance: timedelta) -> str:
    hours = tolerance.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{hours:g} hours"


def _future_problem(*, occurred_at: datetime, status: str, shipment: Shipment) -> str:
    """Say why a scan dated in the future cannot be recorded ("" when it can).

    One scan dated years ahead would make every real scan old news, and a
    delivery cannot have happened yet.
    """
    tolerance = future_tolerance()
    if occurred_at <= timezone.now() + tolerance:
        return ""
    what = "A delivery" if status == TrackingEvent.Status.DELIVERED else "A scan"
    number = shipment.tracking_number or shipment.number
    return (
        f"tracking number {number[:40]!r}: the time "
        f"{occurred_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC is in the future. "
        f"{what} may be dated at most {_tolerance_text(tolerance)} ahead; check "
        "the clock and time zone of the sender."
    )


def _describe(event: TrackingEvent, shipment: Shipment) -> str:
    text = f"Shipment {shipment.number}: {event.get_status_display().lower()}"
    if event.exception_reason:
        text += f" ({event.get_exception_reason_display().lower()})"
    if event.place:
        text += f" at {event.place}"
    if event.description:
        text += f" — {event.description}"
    return text + "."


@transaction.atomic
def tracking_event_record(
    *,
    shipment: Shipment,
    status: str,
    occurred_at: datetime,
    actor: Actor,
    source: str = TrackingEvent.Source.ADMIN,
    description: str = "",
    place: str = "",
    estimated_delivery: date | None = None,
    exception_reason: str = "",
) -> TrackingEvent | None:
    """Record what the carrier said about a shipment and act on it.

    Return the new event, or None when the same event was recorded before.
    """
    if status not in TrackingEvent.Status.values:
        raise TrackingError(
            f"{status!r} is not a tracking status; use one of: "
            + ", ".join(TrackingEvent.Status.values)
            + "."
        )
    if status == TrackingEvent.Status.EXCEPTION:
        exception_reason = exception_reason or ExceptionReason.OTHER
        if exception_reason not in ExceptionReason.values:
            raise TrackingError(
                f"{exception_reason!r} is not an exception reason; use one of: "
                + ", ".join(ExceptionReason.values)
                + "."
            )
    else:
        exception_reason = ""
    if timezone.is_naive(occurred_at):
        raise TrackingError("Give the time of the event with its time zone.")
    if problem := _future_problem(
        occurred_at=occurred_at, status=status, shipment=shipment
    ):
        raise TrackingError(problem[0].upper() + problem[1:])
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if shipment.status not in DISPATCHED_STATUSES:
        raise TrackingError(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}; "
            "tracking starts once it has shipped.",
            status=409,
        )
    same = Q(shipment=shipment, status=status, occurred_at=occurred_at)
    if TrackingEvent.objects.filter(same).exists():
        return None
    newest = shipment.tracking_events.order_by("-occurred_at", "-pk").first()
    try:
        with transaction.atomic():
            event = TrackingEvent.objects.create(
                shipment=shipment,
                status=status,
                exception_reason=exception_reason,
                description=description[:255],
                place=place[:120],
                occurred_at=occurred_at,
                estimated_delivery=estimated_delivery,
                source=source,
            )
    except IntegrityError:
        return None  # The same scan arrived twice at once.
    order_events.order_event_tracking(
        order=order,
        actor=actor,
        message=_describe(event, shipment),
        data={"shipment": shipment.number, "status": status, "event": event.pk},
    )
    if newest is not None and occurred_at < newest.occurred_at:
        return event  # Old news: history only.
    previous_eta = shipment.estimated_delivery
    if estimated_delivery and shipment.status != ShipmentStatus.DELIVERED:
        shipment.estimated_delivery = estimated_delivery
    if shipment.status == ShipmentStatus.DELIVERED:
        pass  # Delivered is final; later scans are history.
    elif status == TrackingEvent.Status.DELIVERED:
        shipment.save(update_fields=["estimated_delivery", "updated_at"])
        _deliver(order=order, shipment=shipment, actor=actor, delivered_at=occurred_at)
        return event
    elif status == TrackingEvent.Status.EXCEPTION:
        shipment.report_exception(exception_reason)
    elif status == TrackingEvent.Status.OUT_FOR_DELIVERY and can_proceed(
        shipment.go_out_for_delivery
    ):
        shipment.go_out_for_delivery()
    elif shipment.status in (
        ShipmentStatus.SHIPPED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.OUT_FOR_DELIVERY,
    ):
        shipment.travel()
    shipment.save(
        update_fields=["status", "exception_reason", "estimated_delivery", "updated_at"]
    )
    if shipment.status != ShipmentStatus.DELIVERED:
        notifications.shipment_tracking_notify(
            shipment=shipment, event=event, previous_eta=previous_eta
        )
    return event


def _shipments_by_tracking(
    numbers: set[str], carrier: Carrier | None
) -> dict[str, list[Shipment]]:
    shipments = Shipment.objects.filter(tracking_number__in=numbers)
    if carrier is not None and not carrier.aggregator:
        shipments = shipments.filter(carrier=carrier)
    found: dict[str, list[Shipment]] = {}
    for shipment in shipments.only("pk", "number", "order_id", "tracking_number"):
        found.setdefault(shipment.tracking_number, []).append(shipment)
    return found


def _line_number(error: str) -> int:
    """Return the line of a "Line 12: …" problem (0 for other problems)."""
    number = error.partition(":")[0].removeprefix("Line ").strip()
    return int(number) if number.isdigit() else 0


def _unknown_number_errors(
    numbers: Sequence[str],
    updates: Sequence[TrackingUpdate],
    carrier: Carrier | None,
) -> list[str]:
    """One problem per unknown tracking number, however many scans it has
    (none, when a sender reports a number without a scan we track): where
    its first scan is, and how many there are."""
    scans: dict[str, list[TrackingUpdate]] = {number: [] for number in numbers}
    for update in updates:
        if update.tracking_number in scans:
            scans[update.tracking_number].append(update)
    errors = []
    for number, its_scans in scans.items():
        where = its_scans[0].where if its_scans else ""
        count = f" ({len(its_scans)} updates)" if len(its_scans) > 1 else ""
        errors.append(
            (f"{where}: " if where else "")
            + f"no shipment has tracking number {number!r}"
            + (f" with {carrier.name}" if carrier and not carrier.aggregator else "")
            + f"{count}."
        )
    return errors


@transaction.atomic
def tracking_updates_record(
    *,
    updates: Sequence[TrackingUpdate],
    actor: Actor,
    source: str,
    carrier: Carrier | None = None,
    refused_lines: Sequence[str] = (),
    tracking_numbers: Sequence[str] = (),
) -> TrackingReport:
    """Record many updates (a CSV, a carrier's batch) all or nothing.

    A carrier only reports on its own parcels, unless it is an aggregator.
    Every problem is reported with where it is, all at once, together with
    `refused_lines` (problems the reader already found); nothing is written
    then. `tracking_numbers` are numbers the sender reports on although it
    sent no scan we record (EasyPost's pre-transit scans): each must be a
    shipment's too. An unknown number is one problem (404), whatever its
    scans.
    """
    numbers = {update.tracking_number for update in updates} | set(tracking_numbers)
    found = _shipments_by_tracking(numbers, carrier)
    unknown = [
        number
        for number in dict.fromkeys(
            [*tracking_numbers, *(u.tracking_number for u in updates)]
        )
        if not found.get(number)
    ]
    errors = list(refused_lines)
    errors += _unknown_number_errors(unknown, updates, carrier)
    matched = []
    for update in updates:
        shipments = found.get(update.tracking_number, [])
        prefix = f"{update.where}: " if update.where else ""
        if not shipments:
            continue  # One problem per unknown number, above.
        if len(shipments) > 1:
            errors.append(
                f"{prefix}tracking number {update.tracking_number!r} belongs to "
                f"{len(shipments)} shipments ("
                + ", ".join(s.number for s in shipments)
                + "); enter the event on the right shipment in the admin."
            )
        else:
            matched.append((shipments[0], update))
    refused_status = None
    if len(errors) > len(refused_lines):
        unknown_only = not refused_lines and len(errors) == len(unknown)
        refused_status = 404 if unknown_only else 400
    elif refused_lines:
        refused_status = 400
    report = TrackingReport()
    # Oldest first per shipment, orders in a fixed order: no lock waits in a circle.
    matched.sort(key=lambda pair: (pair[0].order_id, pair[0].pk, pair[1].occurred_at))
    for shipment, update in matched:
        try:
            event = tracking_event_record(
                shipment=shipment,
                status=update.status,
                occurred_at=update.occurred_at,
                actor=actor,
                source=source,
                description=update.description,
                place=update.place,
                estimated_delivery=update.estimated_delivery,
                exception_reason=update.exception_reason,
            )
        except TrackingError as error:
            # Keep checking the other rows so every problem is reported at once.
            prefix = f"{update.where}: " if update.where else ""
            errors += [prefix + message for message in error.errors]
            refused_status = refused_status or error.status
            continue
        if event is None:
            report.duplicates += 1
        else:
            report.recorded.append(event)
    if errors:
        raise TrackingError(sorted(errors, key=_line_number), status=refused_status)
    return report


# ---- delivery


def _deliver(
    *, order: Order, shipment: Shipment, actor: Actor, delivered_at=None
) -> Order:
    """Deliver a locked shipment of a locked order; return the order as it is now."""
    if not can_proceed(shipment.deliver):
        raise ShipmentStateError.refuse(shipment, "marked delivered", "Ship it first.")
    if delivered_at and delivered_at > timezone.now() + future_tolerance():
        raise TrackingError(
            f"Shipment {shipment.number} cannot be delivered at "
            f"{delivered_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC: that is in the "
            "future."
        )
    shipment.deliver(delivered_at or timezone.now())
    shipment.save(
        update_fields=["status", "delivered_at", "exception_reason", "updated_at"]
    )
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number} delivered.",
        data={"shipment": shipment.number},
    )
    undelivered = order.shipments.exclude(
        status__in=[ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED]
    ).exists()
    if order.status == OrderStatus.SHIPPED and not undelivered:
        order = order_lifecycle.order_deliver(order=order, actor=actor)
    notifications.shipment_delivered_notify(shipment=shipment, order=order)
    return order


@transaction.atomic
def shipment_deliver(
    *, shipment: Shipment, actor: Actor, delivered_at=None
) -> Shipment:
    """Record that the customer received a shipment; the order is delivered
    once all of its shipments are."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    _deliver(order=order, shipment=shipment, actor=actor, delivered_at=delivered_at)
    return shipment


@transaction.atomic
def order_deliver_shipments(*, order: Order, actor: Actor) -> Order:
    """Mark every dispatched shipment of the order delivered, then the order."""
    order, shipments = lock_order_shipments(
        order.pk,
        [
            ShipmentStatus.SHIPPED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.EXCEPTION,
        ],
    )
    if not shipments and not order.shipments.exists():
        # Shipped before fulfillment tracked shipments: only the order moves.
        order = order_lifecycle.order_deliver(order=order, actor=actor)
        notifications.order_delivered_notify(order=order)
        return order
    if not shipments:
        raise FulfillmentError(
            f"Order {order.number} has no shipment on its way to mark delivered."
        )
    for shipment in shipments:
        order = _deliver(order=order, shipment=shipment, actor=actor)
    order = order_with_channel(order_id=order.pk)
    if order.status == OrderStatus.SHIPPED:
        # Some shipment was cancelled or never left; the order still arrived.
        order = order_lifecycle.order_deliver(order=order, actor=actor)
        notifications.order_delivered_notify(order=order)
    return order


@transaction.atomic
def shipment_tracking_change(
    *,
    shipment: Shipment,
    carrier: Carrier,
    tracking_number: str,
    actor: Actor,
    service: str | None = None,
) -> Shipment:
    """Correct the carrier or tracking number of a shipment on its way (a new
    label, a typing error) and give the sales channel the new tracking."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if (
        shipment.status not in DISPATCHED_STATUSES
        or shipment.status == ShipmentStatus.DELIVERED
    ):
        raise TrackingError(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}; "
            "its tracking can change once it has shipped, until it is delivered.",
            status=409,
        )
    tracking_number = tracking_number.strip()
    service = shipment.service if service is None else service.strip()
    check_carrier(
        shipment=shipment, carrier=carrier, service=service, tracking=tracking_number
    )
    before = (shipment.carrier_id, shipment.tracking_number, shipment.service)
    if before == (carrier.pk, tracking_number, service):
        return shipment
    was = (
        f"{shipment.carrier.name} {shipment.tracking_number}"
        if shipment.carrier
        else ""
    )
    shipment.carrier = carrier
    shipment.tracking_number = tracking_number
    shipment.service = service
    shipment.save(update_fields=["carrier", "tracking_number", "service", "updated_at"])
    order_events.order_event_tracking(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number}: tracking changed "
        + (f"from {was} " if was else "")
        + f"to {carrier.name} {tracking_number}.",
        data={"shipment": shipment.number, "tracking_number": tracking_number},
    )
    notifications.shipment_tracking_changed_notify(shipment=shipment)
    return shipment
