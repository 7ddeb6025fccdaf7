"""Tracking and delivery: what carriers report moves shipments along.

Every update, whether typed in the admin, uploaded as CSV or posted by a
carrier, goes through `tracking_event_record`: lock (order, then shipment),
check, record the event, move the shipment (in transit, exception with its
reason, delivered) and its estimated delivery, write the order timeline,
and tell the customer and the sales channel after commit. The order is
delivered when its last shipment is (`shipment_deliver`, which the order
page's "Mark delivered" runs too).

Events may arrive late, twice or wrongly dated: a duplicate (same
shipment, status and time) is ignored; which scan moves the shipment is
decided by what it means, then by its time (`fulfillment.scan_order`): a
delivery is always applied and final, a later stage is applied whatever its
time, an older scan or an earlier stage is history.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import can_proceed

from core.users import Actor
from fulfillment import notifications, scan_order
from fulfillment.exceptions import FulfillmentError, ShipmentStateError, TrackingError
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
from fulfillment.services.label_warnings import voided_label_scan_record
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
    # Scans of labels voided before (their shipments are warned).
    voided_label_scans: int = 0


def _describe(
    event: TrackingEvent, shipment: Shipment, *, effect: scan_order.Effect | None = None
) -> str:
    text = f"Shipment {shipment.number}: {event.get_status_display().lower()}"
    if event.exception_reason:
        text += f" ({event.get_exception_reason_display().lower()})"
    if event.place:
        text += f" at {event.place}"
    if event.description:
        text += f" — {event.description}"
    text += "."
    if event.dated_ahead:
        text += " " + gettext(
            "The carrier dated this scan %(when)s UTC, after it reached us; it "
            "counts from its arrival."
        ) % {"when": f"{event.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M}"}
    if effect == scan_order.Effect.HISTORY and shipment.status != event.status:
        text += " " + gettext(
            "The shipment stays %(status)s: this scan is older or of an earlier stage."
        ) % {"status": shipment.get_status_display().lower()}
    return text


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
    if problem := scan_order.future_problem(
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
    before = shipment.tracking_events.aggregate(
        newest=Max(Least("occurred_at", "created_at")),
        **{stage: Count("pk", filter=Q(status=stage)) for stage in scan_order.STAGES},
    )
    now = timezone.now()
    dated_ahead = scan_order.is_dated_ahead(occurred_at, now)
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
                dated_ahead=dated_ahead,
            )
    except IntegrityError:
        return None  # The same scan arrived twice at once.
    effect, news = scan_order.scan_effect(
        status=status,
        at=scan_order.ordered_at(occurred_at, now),
        shipment_status=shipment.status,
        stage=scan_order.stage_of(s for s in scan_order.STAGES if before[s]),
        newest=before["newest"],
    )
    order_events.order_event_tracking(
        order=order,
        actor=actor,
        message=_describe(event, shipment, effect=effect),
        data={
            "shipment": shipment.number,
            "status": status,
            "event": event.pk,
            "applied": effect != scan_order.Effect.HISTORY,
        },
    )
    if effect == scan_order.Effect.HISTORY:
        return event  # Old news, or an earlier stage: history only.
    previous_eta = shipment.estimated_delivery
    if estimated_delivery and news:
        shipment.estimated_delivery = estimated_delivery
    if effect == scan_order.Effect.DELIVER:
        shipment.save(update_fields=["estimated_delivery", "updated_at"])
        _deliver(
            order=order,
            shipment=shipment,
            actor=actor,
            delivered_at=scan_order.ordered_at(occurred_at, now),
        )
        return event
    if status == TrackingEvent.Status.EXCEPTION:
        shipment.report_exception(exception_reason)
    elif status == TrackingEvent.Status.OUT_FOR_DELIVERY:
        if can_proceed(shipment.go_out_for_delivery):
            shipment.go_out_for_delivery()
    elif can_proceed(shipment.travel):
        shipment.travel()
    shipment.save(
        update_fields=["status", "exception_reason", "estimated_delivery", "updated_at"]
    )
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


def _shipments_by_voided_label(numbers: set[str]) -> dict[str, Shipment]:
    """The shipment whose voided label has each number (the newest one)."""
    if not numbers:
        return {}
    found: dict[str, Shipment] = {}
    for shipment in (
        Shipment.objects.filter(voided_tracking_number__in=numbers)
        .only("pk", "number", "order_id", "voided_tracking_number")
        .order_by("pk")
    ):
        found[shipment.voided_tracking_number] = shipment
    return found


def _label_voided_meanwhile(shipment: Shipment, update: TrackingUpdate) -> bool:
    return Shipment.objects.filter(
        pk=shipment.pk,
        voided_tracking_number=update.tracking_number,
        status__in=[ShipmentStatus.PACKED, ShipmentStatus.PICKING],
    ).exists()


def _voided_scan(shipment, update: TrackingUpdate, actor, report) -> None:
    voided_label_scan_record(
        shipment=shipment,
        label=update.tracking_number,
        occurred_at=update.occurred_at,
        description=_update_text(update),
        actor=actor,
    )
    report.voided_label_scans += 1


def _update_text(update: TrackingUpdate) -> str:
    text = str(TrackingEvent.Status(update.status).label).lower()
    if update.place:
        text += f" at {update.place}"
    if update.description:
        text += f" — {update.description}"
    return f"{text} ({update.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)."


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
    # A voided label the carrier scans all the same: its shipment is warned.
    voided = _shipments_by_voided_label(set(unknown))
    unknown = [number for number in unknown if number not in voided]
    errors = list(refused_lines)
    errors += _unknown_number_errors(unknown, updates, carrier)
    matched = []
    for update in updates:
        shipments = found.get(update.tracking_number, [])
        prefix = f"{update.where}: " if update.where else ""
        if update.tracking_number in voided:
            # The newest voided label of that number (at most one shipment).
            matched.append((voided[update.tracking_number], update, True))
            continue
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
            matched.append((shipments[0], update, False))
    refused_status = None
    if len(errors) > len(refused_lines):
        unknown_only = not refused_lines and len(errors) == len(unknown)
        refused_status = 404 if unknown_only else 400
    elif refused_lines:
        refused_status = 400
    report = TrackingReport()
    # Oldest first per shipment, orders in a fixed order: no lock waits in a circle.
    matched.sort(key=lambda each: (each[0].order_id, each[0].pk, each[1].occurred_at))
    for shipment, update, of_voided_label in matched:
        if of_voided_label:
            _voided_scan(shipment, update, actor, report)
            continue
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
            if _label_voided_meanwhile(shipment, update):
                # The label was voided between reading and locking: warn.
                _voided_scan(shipment, update, actor, report)
                continue
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
    if delivered_at and delivered_at > timezone.now() + scan_order.future_tolerance():
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
