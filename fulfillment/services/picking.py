"""Every write of the fulfilment app: pick lists, packing, shipping, delivery,
and the document trail.

Each service reads top to bottom: lock (order, then shipment, then stock),
check, act, record. The order side is always changed through
`orders.services`; stock through `inventory.services`.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from core.exceptions import DomainError
from core.sequences import format_number, sequence_reserve
from fulfillment import notifications
from fulfillment.exceptions import FulfilmentError, ShipmentStateError
from fulfillment.locks import lock_pick_lists, lock_shipment
from fulfillment.models import (
    Carrier,
    DocumentKind,
    DocumentPrint,
    PickList,
    PrintJob,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from fulfillment.selectors import open_claims
from inventory.models import Allocation
from inventory.services import stock_consume
from orders import events as order_events
from orders import services as order_services
from orders.locks import lock_order, lock_orders
from orders.models import Order, OrderEvent, OrderStatus

Actor = AbstractBaseUser | None
S = ShipmentStatus
PICK_LIST_PREFIX = "PL"
SHIPMENT_PREFIX = "SH"
# Orders that may go on a pick list: fully reserved ones, and partially shipped
# ones whose remaining stock is reserved and waits in a pending shipment.
# A backordered order ships what is reserved now; the rest follows.
PICKABLE_ORDERS = (
    OrderStatus.ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.PARTIALLY_SHIPPED,
)


@dataclass
class Wave:
    """What `pick_lists_create` made, and which orders it left alone and why."""

    pick_lists: list[PickList] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _shipment_state_error(shipment: Shipment, verb: str, hint: str = "") -> None:
    raise ShipmentStateError(
        f"Shipment {shipment.number} is {shipment.get_status_display()} and cannot "
        f"be {verb}." + (f" {hint}" if hint else "")
    )


def _shipments_plan(*, orders: Sequence[Order]) -> list[Shipment]:
    """Turn reserved stock that no open shipment covers yet into pending shipments.

    An order gets one shipment per location its stock is reserved at; stock
    that joins a location where a pending shipment already waits is added
    to that shipment.
    """
    order_ids = [order.pk for order in orders]
    claims = open_claims(order_ids=order_ids)
    needed: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for allocation in Allocation.objects.filter(
        order_line__order_id__in=order_ids
    ).select_related("stock_level", "order_line"):
        location_id = allocation.stock_level.location_id
        line_id = allocation.order_line_id
        free = allocation.quantity - claims.get((line_id, location_id), 0)
        if free > 0:
            needed[allocation.order_line.order_id, location_id][line_id] = free
    if not needed:
        return []
    pending = {
        (s.order_id, s.location_id): s
        for s in Shipment.objects.filter(order_id__in=order_ids, status=S.PENDING)
    }
    new_keys = [key for key in sorted(needed) if key not in pending]
    numbers = sequence_reserve(name="shipment", count=len(new_keys)) if new_keys else []
    created = Shipment.objects.bulk_create(
        Shipment(
            number=format_number(SHIPMENT_PREFIX, value),
            order_id=order_id,
            location_id=location_id,
        )
        for (order_id, location_id), value in zip(new_keys, numbers, strict=True)
    )
    pending.update({(s.order_id, s.location_id): s for s in created})
    existing_lines = {
        (line.shipment_id, line.order_line_id): line.pk
        for line in ShipmentLine.objects.filter(
            shipment__in=[pending[key] for key in needed if key not in new_keys]
        )
    }
    fresh = []
    for key, quantities in needed.items():
        shipment = pending[key]
        for line_id, quantity in quantities.items():
            line_pk = existing_lines.get((shipment.pk, line_id))
            if line_pk:
                ShipmentLine.objects.filter(pk=line_pk).update(
                    quantity=F("quantity") + quantity
                )
            else:
                fresh.append(
                    ShipmentLine(
                        shipment=shipment, order_line_id=line_id, quantity=quantity
                    )
                )
    ShipmentLine.objects.bulk_create(fresh)
    return created


@transaction.atomic
def pick_lists_create(*, order_ids: Sequence[int], actor: Actor) -> Wave:
    """Put orders on pick lists: one list per location, a wave of many orders.

    Each order's reserved stock becomes one shipment per location; the
    shipments and the orders move to picking. Orders that cannot be picked
    are skipped and named in the result.
    """
    wave = Wave()
    orders = lock_orders(sorted(set(order_ids)))
    pickable = [order for order in orders if order.status in PICKABLE_ORDERS]
    wave.skipped = [
        f"{order.number} is {order.get_status_display()}"
        for order in orders
        if order.status not in PICKABLE_ORDERS
    ]
    if not pickable:
        raise FulfilmentError(
            "None of the selected orders can go on a pick list ("
            + "; ".join(wave.skipped)
            + "). Only orders with reserved stock are picked; allocate or release "
            "them first."
        )
    _shipments_plan(orders=pickable)
    shipments = list(
        Shipment.objects.filter(order__in=pickable, status=S.PENDING)
        .select_related("location")
        .order_by("location__code", "number")
    )
    by_location: dict[int, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        by_location[shipment.location_id].append(shipment)
    with_work = {shipment.order_id for shipment in shipments}
    wave.skipped += [
        f"{order.number} has nothing left to pick"
        for order in pickable
        if order.pk not in with_work
    ]
    if not by_location:
        raise FulfilmentError(
            "Nothing to pick: every reserved unit of the selected orders is "
            "already on a pick list (" + "; ".join(wave.skipped) + ")."
        )
    numbers = sequence_reserve(name="pick_list", count=len(by_location))
    orders_by_pk = {order.pk: order for order in pickable}
    timeline: list[OrderEvent] = []
    now = timezone.now()
    for (location_id, group), value in zip(by_location.items(), numbers, strict=True):
        pick_list = PickList.objects.create(
            number=format_number(PICK_LIST_PREFIX, value),
            location_id=location_id,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        for shipment in group:
            shipment.start_picking(pick_list)
            shipment.updated_at = now
            timeline.append(
                order_events.order_event_fulfilment(
                    order=orders_by_pk[shipment.order_id],
                    actor=actor,
                    message=f"Shipment {shipment.number} from "
                    f"{shipment.location.code} is on pick list {pick_list.number}.",
                    data={"shipment": shipment.number, "pick_list": pick_list.number},
                    save=False,
                )
            )
        wave.pick_lists.append(pick_list)
    for shipment in shipments:
        shipment.version += 1
    Shipment.objects.bulk_update(
        shipments, ["status", "pick_list", "updated_at", "version"]
    )
    OrderEvent.objects.bulk_create(timeline)
    for order in pickable:
        if order.pk in with_work and order.status in (
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
        ):
            order = order_services.order_start_picking(order=order, actor=actor)
        wave.orders.append(order)
    return wave


def _pick_list_refresh(*, pick_list_id: int | None) -> None:
    """Close a pick list once none of its shipments waits to be picked."""
    if pick_list_id is None:
        return
    pick_list = lock_pick_lists([pick_list_id])[0]
    waiting = pick_list.shipments.filter(status__in=[S.PENDING, S.PICKING]).exists()
    if not waiting and can_proceed(pick_list.finish):
        pick_list.finish()
        pick_list.save(update_fields=["status", "updated_at"])


def _default_weight_g(shipment: Shipment) -> int:
    return sum(
        line.quantity * line.order_line.product.weight_g
        for line in shipment.lines.select_related("order_line__product")
    )


@transaction.atomic
def shipment_pack(
    *,
    shipment: Shipment,
    actor: Actor,
    packages: int = 1,
    weight_g: int | None = None,
) -> Shipment:
    """Record a picked shipment as packed: parcel count and weight.

    Without a weight the products' weights are added up. The order becomes
    packed when none of its shipments is still being picked.
    """
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if not can_proceed(shipment.pack):
        _shipment_state_error(
            shipment,
            "packed",
            "Only shipments on a pick list are packed."
            if shipment.status == S.PENDING
            else "",
        )
    if not isinstance(packages, int) or packages < 1:
        raise FulfilmentError(
            f"Shipment {shipment.number}: the number of parcels must be 1 or more."
        )
    if weight_g is not None and (not isinstance(weight_g, int) or weight_g < 0):
        raise FulfilmentError(
            f"Shipment {shipment.number}: the weight must be zero or more grams."
        )
    if weight_g is None:
        weight_g = _default_weight_g(shipment)
    shipment.pack(packages, weight_g)
    shipment.save(update_fields=["status", "packages", "weight_g", "updated_at"])
    order_events.order_event_fulfilment(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number} packed: {packages} parcel(s), "
        f"{shipment.weight_kg} kg.",
        data={"shipment": shipment.number, "packages": packages, "weight_g": weight_g},
    )
    if (
        order.status == OrderStatus.PICKING
        and not order.shipments.filter(status__in=[S.PENDING, S.PICKING]).exists()
    ):
        order_services.order_pack(order=order, actor=actor)
    _pick_list_refresh(pick_list_id=shipment.pick_list_id)
    return shipment


def _check_carrier(
    *, shipment: Shipment, carrier: Carrier | None, service: str, tracking: str
) -> None:
    if carrier is None:
        if tracking or service:
            raise FulfilmentError(
                f"Shipment {shipment.number}: choose the carrier of tracking "
                f"number {tracking or '(none)'} and service {service or '(none)'}."
            )
        return
    if not carrier.active:
        raise FulfilmentError(
            f"Carrier {carrier.name} is inactive; choose another carrier for "
            f"shipment {shipment.number}."
        )
    if service and carrier.service_list and service not in carrier.service_list:
        raise FulfilmentError(
            f"{carrier.name} has no service {service!r}; it offers "
            + ", ".join(carrier.service_list)
            + "."
        )
    if not tracking:
        raise FulfilmentError(
            f"Shipment {shipment.number}: give the {carrier.name} tracking number."
        )
    used = (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking)
        .exclude(pk=shipment.pk)
        .values_list("number", flat=True)
        .first()
    )
    if used:
        raise FulfilmentError(
            f"{carrier.name} tracking number {tracking} is already on shipment "
            f"{used}; check the label and enter the right number for "
            f"{shipment.number}."
        )


@transaction.atomic
def shipment_ship(
    *,
    shipment: Shipment,
    actor: Actor,
    carrier: Carrier | None = None,
    service: str = "",
    tracking_number: str = "",
    estimated_delivery: date | None = None,
    quantities: Mapping[int, int] | None = None,
) -> Shipment:
    """Hand a packed shipment to its carrier.

    The reserved stock leaves the shelf (stock movements), the order lines
    count what shipped and the order becomes shipped or partially shipped.
    `quantities` (order line pk → units) ships less than packed: the rest
    stays reserved in a new pending shipment that goes on a later pick list.
    A shipment without a carrier (collected, own van) has no tracking number.
    """
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if not can_proceed(shipment.ship):
        _shipment_state_error(
            shipment,
            "shipped",
            "Pack it first." if shipment.status in (S.PENDING, S.PICKING) else "",
        )
    service, tracking_number = service.strip(), tracking_number.strip()
    _check_carrier(
        shipment=shipment, carrier=carrier, service=service, tracking=tracking_number
    )
    lines = list(shipment.lines.select_related("order_line"))
    leaving = {line.order_line_id: line.quantity for line in lines}
    if quantities is not None:
        for line in lines:
            wanted = quantities.get(line.order_line_id, 0)
            if not isinstance(wanted, int) or not 0 <= wanted <= line.quantity:
                raise FulfilmentError(
                    f"Shipment {shipment.number}: ship between 0 and {line.quantity} "
                    f"of {line.order_line.sku}, not {wanted}."
                )
            leaving[line.order_line_id] = wanted
    if not any(leaving.values()):
        raise FulfilmentError(f"Shipment {shipment.number} would ship nothing.")
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
            raise FulfilmentError(
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
        _shipment_split(
            shipment=shipment, lines=lines, leaving=leaving, rest=rest, actor=actor
        )
    shipment.ship(carrier, service, tracking_number, timezone.now(), estimated_delivery)
    shipment.save(
        update_fields=[
            "status",
            "carrier",
            "service",
            "tracking_number",
            "shipped_at",
            "estimated_delivery",
            "updated_at",
        ]
    )
    order_services.order_shipment_record(
        order=order,
        actor=actor,
        shipped={line_id: qty for line_id, qty in leaving.items() if qty},
        reference=shipment.number
        + (f" ({carrier.name} {tracking_number})" if carrier else ""),
    )
    notifications.shipment_shipped_notify(shipment=shipment)
    return shipment


def _shipment_split(
    *,
    shipment: Shipment,
    lines: Sequence[ShipmentLine],
    leaving: Mapping[int, int],
    rest: Mapping[int, int],
    actor: Actor,
) -> Shipment:
    """Move what does not leave now into a new pending shipment (still reserved)."""
    remainder = Shipment.objects.create(
        number=format_number(SHIPMENT_PREFIX, sequence_reserve(name="shipment")[0]),
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
    order_events.order_event_fulfilment(
        order=shipment.order,
        actor=actor,
        message=f"{sum(rest.values())} unit(s) of shipment {shipment.number} "
        f"stay reserved at {shipment.location.code} in new shipment "
        f"{remainder.number}, for a later pick list.",
        data={"shipment": shipment.number, "remainder": remainder.number},
    )
    return remainder


@transaction.atomic
def shipment_deliver(
    *, shipment: Shipment, actor: Actor, delivered_at=None
) -> Shipment:
    """Record that the customer received a shipment; the order is delivered
    once all of its shipments are."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if not can_proceed(shipment.deliver):
        _shipment_state_error(shipment, "marked delivered", "Ship it first.")
    shipment.deliver(delivered_at or timezone.now())
    shipment.save(
        update_fields=["status", "delivered_at", "exception_reason", "updated_at"]
    )
    order_events.order_event_fulfilment(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number} delivered.",
        data={"shipment": shipment.number},
    )
    undelivered = order.shipments.exclude(
        status__in=[S.DELIVERED, S.CANCELLED]
    ).exists()
    if order.status == OrderStatus.SHIPPED and not undelivered:
        order = order_services.order_deliver(order=order, actor=actor)
    notifications.shipment_delivered_notify(shipment=shipment, order=order)
    return shipment


# ---- the order page buttons, routed through shipments


def _fresh(order: Order) -> Order:
    return Order.objects.select_related("channel").get(pk=order.pk)


def order_pick(*, order: Order, actor: Actor) -> Order:
    """Put one order on pick lists (one per location its stock is at)."""
    pick_lists_create(order_ids=[order.pk], actor=actor)
    return _fresh(order)


@transaction.atomic
def order_pack_shipments(
    *, order: Order, actor: Actor, packages: int = 1, weight_g: int | None = None
) -> Order:
    """Pack every shipment of the order that is being picked."""
    shipments = list(order.shipments.filter(status=S.PICKING).order_by("number"))
    if not shipments:
        raise FulfilmentError(
            f"Order {order.number} has no shipment being picked; put it on a pick "
            "list first."
        )
    if weight_g is not None and len(shipments) > 1:
        raise FulfilmentError(
            f"Order {order.number} has {len(shipments)} shipments being picked ("
            + ", ".join(s.number for s in shipments)
            + "): leave the weight empty to use the product weights, or pack them "
            "one by one under Fulfilment › Shipments."
        )
    for shipment in shipments:
        shipment_pack(
            shipment=shipment, actor=actor, packages=packages, weight_g=weight_g
        )
    return _fresh(order)


@transaction.atomic
def order_ship_shipments(
    *,
    order: Order,
    actor: Actor,
    carrier: Carrier | None = None,
    service: str = "",
    tracking_numbers: Sequence[str] = (),
) -> Order:
    """Ship every packed shipment of the order, one tracking number each."""
    shipments = list(order.shipments.filter(status=S.PACKED).order_by("number"))
    if not shipments:
        raise FulfilmentError(
            f"Order {order.number} has no packed shipment to ship; pack it first."
        )
    tracking_numbers = list(tracking_numbers)
    if carrier is not None and len(tracking_numbers) != len(shipments):
        raise FulfilmentError(
            f"Order {order.number} has {len(shipments)} packed shipment(s) ("
            + ", ".join(s.number for s in shipments)
            + f"): give {len(shipments)} tracking number(s), one per shipment in "
            "this order."
        )
    if carrier is None:
        tracking_numbers = [""] * len(shipments)
    for shipment, tracking in zip(shipments, tracking_numbers, strict=True):
        shipment_ship(
            shipment=shipment,
            actor=actor,
            carrier=carrier,
            service=service,
            tracking_number=tracking,
        )
    return _fresh(order)


@transaction.atomic
def order_deliver_shipments(*, order: Order, actor: Actor) -> Order:
    """Mark every dispatched shipment of the order delivered, then the order."""
    shipments = list(
        order.shipments.filter(
            status__in=[S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION]
        ).order_by("number")
    )
    if not shipments and not order.shipments.exists():
        # Shipped before fulfilment tracked shipments: only the order moves.
        order = order_services.order_deliver(order=order, actor=actor)
        notifications.order_delivered_notify(order=order)
        return order
    if not shipments:
        raise FulfilmentError(
            f"Order {order.number} has no shipment on its way to mark delivered."
        )
    for shipment in shipments:
        shipment_deliver(shipment=shipment, actor=actor)
    order = _fresh(order)
    if order.status == OrderStatus.SHIPPED:
        # Some shipment was cancelled or never left; the order still arrived.
        order = order_services.order_deliver(order=order, actor=actor)
        notifications.order_delivered_notify(order=order)
    return order


# ---- the document trail


def _timeline_message(kind: str, numbers: Sequence[str], background: bool) -> str:
    label = DocumentKind(kind).label
    how = " (background batch)" if background else ""
    return f"{label} {', '.join(numbers)} printed{how}."


@transaction.atomic
def document_print_record(
    *,
    kind: str,
    actor: Actor,
    shipment_ids: Sequence[int] = (),
    pick_list_ids: Sequence[int] = (),
    pages: int = 0,
    background: bool = False,
) -> DocumentPrint:
    """Write the trail of one print or download: the print log and a timeline
    entry on every order concerned. Printing a pick list starts it."""
    user = actor if actor is not None and actor.is_authenticated else None
    if kind == DocumentKind.PICK_LIST:
        pick_lists = lock_pick_lists(pick_list_ids)
        references = [p.number for p in pick_lists]
        shipments = list(
            Shipment.objects.filter(pick_list__in=pick_lists)
            .exclude(status=S.CANCELLED)
            .values_list("order_id", "pick_list__number")
        )
        for pick_list in pick_lists:
            if can_proceed(pick_list.start):
                pick_list.start()
                pick_list.save(update_fields=["status", "updated_at"])
    else:
        shipments = list(
            Shipment.objects.filter(pk__in=list(shipment_ids))
            .order_by("number")
            .values_list("order_id", "number")
        )
        references = [number for _, number in shipments]
    record = DocumentPrint.objects.create(
        kind=kind,
        user=user,
        references=references,
        pages=pages,
        background=background,
    )
    if kind == DocumentKind.PICK_LIST:
        record.pick_lists.add(*pick_list_ids)
    else:
        record.shipments.add(*shipment_ids)
    numbers_of: dict[int, list[str]] = defaultdict(list)
    for order_id, number in shipments:
        if number not in numbers_of[order_id]:
            numbers_of[order_id].append(number)
    OrderEvent.objects.bulk_create(
        order_events.order_event_document(
            order=order_id,
            actor=actor,
            message=_timeline_message(kind, numbers, background),
            data={"document": kind, "print": record.pk, "numbers": numbers},
        )
        for order_id, numbers in numbers_of.items()
    )
    return record


@transaction.atomic
def print_job_create(*, kind: str, object_ids: Sequence[int], actor: Actor) -> PrintJob:
    """Queue a large batch of documents; the worker renders it in the background."""
    from fulfillment.tasks import print_job_render

    if not object_ids:
        raise FulfilmentError("Select at least one shipment or pick list to print.")
    job = PrintJob.objects.create(
        kind=kind,
        object_ids=sorted(set(object_ids)),
        total=len(set(object_ids)),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    transaction.on_commit(lambda: print_job_render.enqueue(job_id=job.pk))
    return job


def print_job_download(*, job: PrintJob, actor: Actor) -> DocumentPrint:
    """Record that someone downloaded a finished batch."""
    if job.status != PrintJob.Status.DONE:
        raise FulfilmentError(
            f"Batch {job.pk} is {job.get_status_display().lower()}; download it "
            "when it is ready."
        )
    pick_lists = job.kind == DocumentKind.PICK_LIST
    return document_print_record(
        kind=job.kind,
        actor=actor,
        shipment_ids=[] if pick_lists else job.object_ids,
        pick_list_ids=job.object_ids if pick_lists else [],
        pages=job.pages,
        background=True,
    )


def print_job_run(*, job_id: int) -> PrintJob:
    """Render a queued batch in chunks over all cores, keeping its progress.

    Runs outside a transaction on purpose: each progress step is committed
    at once so the progress page can show it.
    """
    from fulfillment import documents

    job = PrintJob.objects.get(pk=job_id)
    if job.status not in (PrintJob.Status.QUEUED, PrintJob.Status.FAILED):
        return job
    PrintJob.objects.filter(pk=job.pk).update(
        status=PrintJob.Status.RUNNING, started_at=timezone.now(), done=0, error=""
    )

    def progress(done: int, total: int) -> None:
        PrintJob.objects.filter(pk=job.pk).update(done=done, total=total)

    try:
        rendered = documents.render(job.kind, job.object_ids, on_progress=progress)
    except Exception as error:
        PrintJob.objects.filter(pk=job.pk).update(
            status=PrintJob.Status.FAILED,
            error=f"{type(error).__name__}: {error}",
            finished_at=timezone.now(),
        )
        raise
    PrintJob.objects.filter(pk=job.pk).update(
        status=PrintJob.Status.DONE,
        pdf=rendered.pdf,
        pages=rendered.pages,
        done=len(rendered.references),
        total=len(rendered.references),
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


@dataclass(frozen=True)
class ShipInstruction:
    """One row of a bulk ship: shipment number, carrier code, tracking number."""

    row: int
    shipment: str
    carrier: str
    tracking_number: str
    service: str = ""


@dataclass
class ShipReport:
    shipped: list[Shipment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def shipments_ship_many(
    *, instructions: Sequence[ShipInstruction], actor: Actor
) -> ShipReport:
    """Ship many packed shipments (a CSV from the carrier's manifest).

    Each row ships in its own transaction; a row that cannot ship is
    reported by line and leaves the others alone.
    """
    report = ShipReport()
    shipments = {
        s.number: s
        for s in Shipment.objects.filter(number__in=[i.shipment for i in instructions])
    }
    carriers = {
        c.code: c
        for c in Carrier.objects.filter(code__in=[i.carrier for i in instructions])
    }
    seen: set[str] = set()
    for instruction in instructions:
        where = f"Line {instruction.row}"
        shipment = shipments.get(instruction.shipment)
        carrier = carriers.get(instruction.carrier)
        if shipment is None:
            report.errors.append(f"{where}: no shipment {instruction.shipment}.")
            continue
        if carrier is None:
            report.errors.append(
                f"{where}: no carrier with code {instruction.carrier!r} (see "
                "Fulfilment › Carriers)."
            )
            continue
        if shipment.number in seen:
            report.errors.append(f"{where}: {shipment.number} is listed twice.")
            continue
        seen.add(shipment.number)
        try:
            report.shipped.append(
                shipment_ship(
                    shipment=shipment,
                    actor=actor,
                    carrier=carrier,
                    service=instruction.service,
                    tracking_number=instruction.tracking_number,
                )
            )
        except DomainError as error:
            report.errors.append(f"{where}: {error}")
    return report
