"""Every write to orders: create, allocate, walk the state machine, edit.

Each service reads top to bottom: lock, check, act, record, notify after
commit. Transitions on the model touch only the order row; stock moves
through `inventory.services`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import can_proceed

from core.history import history_snapshot
from core.sequences import format_number, sequence_reserve
from inventory.allocation import Demand
from inventory.models import Allocation, Product
from inventory.selectors import stock_free_exists
from inventory.services import (
    AllocationRequest,
    stock_allocate_many,
    stock_consume,
    stock_release,
)
from orders import events
from orders.emails import customer_email_queue
from orders.exceptions import OrderConflictError, OrderError, OrderStateError
from orders.locks import lock_order, lock_orders
from orders.models import (
    Channel,
    Customer,
    CustomerEmail,
    HoldReason,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)

Actor = AbstractBaseUser | None
S = OrderStatus
ORDER_NUMBER_PREFIX = "SO"

# Fields a person may change on an order until it is packed.
EDITABLE_FIELDS = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "ship_phone",
    "shipping_method",
    "requested_delivery_date",
    "priority",
)


@dataclass(frozen=True)
class LineInput:
    product: Product
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Address:
    name: str
    address1: str
    city: str
    country: str
    company: str = ""
    address2: str = ""
    region: str = ""
    postcode: str = ""
    phone: str = ""

    def as_order_fields(self) -> dict[str, str]:
        return {
            "ship_name": self.name,
            "ship_company": self.company,
            "ship_address1": self.address1,
            "ship_address2": self.address2,
            "ship_city": self.city,
            "ship_region": self.region,
            "ship_postcode": self.postcode,
            "ship_country": self.country.upper(),
            "ship_phone": self.phone,
        }


def customer_get_or_create(*, email: str, name: str = "", phone: str = "") -> Customer:
    """Find a customer by e-mail (any letter case) or create one."""
    email = email.strip()
    customer = Customer.objects.filter(email__iexact=email).first()
    if customer:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email.lower(), name=name, phone=phone)
    except IntegrityError:
        # Someone created the same customer a moment ago.
        return Customer.objects.get(email__iexact=email)


def order_number_next() -> str:
    """Reserve the next human order number."""
    return format_number(ORDER_NUMBER_PREFIX, sequence_reserve(name="order")[0])


@transaction.atomic
def order_create(
    *,
    channel: Channel,
    customer: Customer,
    external_id: str,
    address: Address,
    lines: Sequence[LineInput],
    actor: Actor,
    placed_at: datetime | None = None,
    currency: str = "USD",
    shipping_amount: Decimal = Decimal("0"),
    tax_amount: Decimal = Decimal("0"),
    shipping_method: str = "",
    priority: int = Order.Priority.NORMAL,
    requested_delivery_date: date | None = None,
    allocate: bool = True,
    source: str = "admin",
) -> Order:
    """Record a new order with its lines and reserve stock for it."""
    if not lines:
        raise OrderError(f"Order {external_id} from {channel.name} has no lines.")
    for line in lines:
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise OrderError(
                f"Order {external_id}: the quantity of {line.product.sku} must be a "
                "whole number above zero."
            )
    if Order.objects.filter(channel=channel, external_id=external_id).exists():
        raise OrderError(
            f"{channel.name} order {external_id} is already in the system; "
            "it was not created twice."
        )
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    order = Order.objects.create(
        number=order_number_next(),
        channel=channel,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at or timezone.now(),
        currency=currency,
        subtotal=subtotal,
        shipping_amount=shipping_amount,
        tax_amount=tax_amount,
        total=subtotal + shipping_amount + tax_amount,
        shipping_method=shipping_method,
        priority=priority,
        requested_delivery_date=requested_delivery_date,
        **address.as_order_fields(),
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=line.product,
            sku=line.product.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    )
    events.order_event_placed(order=order, actor=actor, source=source)
    if allocate:
        order = order_allocate(order=order, actor=actor)
    customer_email_queue(order=order, kind=CustomerEmail.Kind.RECEIVED)
    return order


def order_totals_refresh(*, order: Order) -> Order:
    """Recompute subtotal and total from the lines (after lines were edited)."""
    subtotal = sum((line.line_total for line in order.lines.all()), Decimal("0"))
    order.subtotal = subtotal
    order.total = subtotal + order.shipping_amount + order.tax_amount
    order.save(update_fields=["subtotal", "total", "updated_at"])
    return order


def _transition(order: Order, name: str, verb: str, *args: Any) -> str:
    """Run a transition or raise a domain error naming the order and its state."""
    method = getattr(order, name)
    if not can_proceed(method):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()} and cannot be {verb}."
        )
    previous = order.status
    method(*args)
    return previous


def _allocate_outstanding(*, orders: Sequence[Order], actor: Actor) -> list[Order]:
    """Reserve what the locked orders' lines still need, oldest request first,
    and move each order to allocated or backordered."""
    lines_of: dict[int, list[OrderLine]] = {order.pk: [] for order in orders}
    for line in OrderLine.objects.filter(order__in=orders).annotate(
        reserved=Coalesce(Sum("allocations__quantity"), 0)
    ):
        lines_of[line.order_id].append(line)
    results = stock_allocate_many(
        requests=[
            AllocationRequest(
                key=order.pk,
                demands=[
                    Demand(
                        line_id=line.pk,
                        product_id=line.product_id,
                        quantity=line.quantity - line.quantity_shipped - line.reserved,
                    )
                    for line in lines_of[order.pk]
                ],
                country=order.ship_country,
            )
            for order in orders
        ]
    )
    timeline: list[OrderEvent] = []
    changed: list[Order] = []
    for order in orders:
        result = results[order.pk]
        if result.reserved_any:
            timeline.append(
                events.order_event_allocated(
                    order=order, actor=actor, reserved=result.reserved, save=False
                )
            )
        if order.status in IN_PROGRESS:
            # Partly picked or shipped: the new reservation waits for the next
            # pick list; the status stays where the work is.
            continue
        if result.complete:
            if order.status != S.ALLOCATED:
                order.allocate()
                changed.append(order)
            continue
        if order.status != S.BACKORDERED or result.reserved_any:
            sku_of = {line.pk: line.sku for line in lines_of[order.pk]}
            timeline.append(
                events.order_event_backordered(
                    order=order,
                    actor=actor,
                    short={
                        sku_of[line_id]: qty for line_id, qty in result.short.items()
                    },
                    save=False,
                )
            )
        if order.status != S.BACKORDERED:
            order.backorder()
            changed.append(order)
    OrderEvent.objects.bulk_create(timeline)
    if changed:
        # The transitions above already ran on each order; this only stores them.
        now = timezone.now()
        for order in changed:
            order.updated_at = now
            order.version += 1
        Order.objects.bulk_update(changed, ["status", "updated_at", "version"])
        history_snapshot(
            Order, [order.pk for order in changed], user=actor, reason="allocation"
        )
    return list(orders)


@transaction.atomic
def order_allocate(*, order: Order, actor: Actor) -> Order:
    """Reserve stock for a pending or backordered order."""
    order = lock_order(order.pk)
    if order.status not in (S.PENDING, S.BACKORDERED):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()}; only pending or "
            "backordered orders are allocated."
        )
    return _allocate_outstanding(orders=[order], actor=actor)[0]


# Orders whose lines may still wait for stock: backordered ones, and those
# already partly on their way (what was there was picked or shipped first).
IN_PROGRESS = (S.PICKING, S.PACKED, S.PARTIALLY_SHIPPED)
STILL_WAITING = (S.BACKORDERED, *IN_PROGRESS)


@transaction.atomic
def orders_allocate(
    *,
    order_ids: Sequence[int],
    actor: Actor,
    statuses: Sequence[str] = (S.PENDING, S.BACKORDERED),
) -> list[Order]:
    """Reserve stock for many orders in one transaction (bulk imports, waves).

    Orders are served priority first, then oldest; orders in other statuses
    than `statuses` are left alone.
    """
    locked = lock_orders(list(order_ids))
    waiting = sorted(
        (o for o in locked if o.status in statuses),
        key=lambda o: (-o.priority, o.placed_at, o.pk),
    )
    return _allocate_outstanding(orders=waiting, actor=actor) if waiting else []


BACKORDER_BATCH = 10
ALLOCATION_BATCH = 200


def orders_allocate_in_batches(*, order_ids: Sequence[int], actor: Actor) -> int:
    """Allocate many new orders (an import) in short transactions of a few
    hundred, oldest first as given. Returns how many ended fully allocated."""
    allocated = 0
    for start in range(0, len(order_ids), ALLOCATION_BATCH):
        batch = orders_allocate(
            order_ids=order_ids[start : start + ALLOCATION_BATCH], actor=actor
        )
        allocated += sum(1 for order in batch if order.status == S.ALLOCATED)
    return allocated


def backorders_reallocate(*, product_ids: Iterable[int]) -> int:
    """Offer newly free stock to backordered orders: priority first, then oldest.

    Orders are served in small batches, each in its own short transaction, and
    the walk stops as soon as none of the products has free stock left.
    Returns how many orders became fully allocated.
    """
    product_ids = list(product_ids)
    candidates = list(
        Order.objects.filter(
            status__in=STILL_WAITING, lines__product_id__in=product_ids
        )
        .order_by("-priority", "placed_at", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    completed = 0
    for start in range(0, len(candidates), BACKORDER_BATCH):
        if not stock_free_exists(product_ids=product_ids):
            break
        allocated = orders_allocate(
            order_ids=candidates[start : start + BACKORDER_BATCH],
            actor=None,
            statuses=STILL_WAITING,
        )
        completed += sum(1 for order in allocated if order.status == S.ALLOCATED)
    return completed


@transaction.atomic
def order_start_picking(*, order: Order, actor: Actor) -> Order:
    """Mark an allocated order as being picked."""
    order = lock_order(order.pk)
    previous = _transition(order, "start_picking", "picked")
    order.save(update_fields=["status", "updated_at"])
    events.order_event_status(
        order=order, actor=actor, previous=previous, message="Picking started."
    )
    return order


@transaction.atomic
def order_pack(*, order: Order, actor: Actor) -> Order:
    """Mark a picked order as packed."""
    order = lock_order(order.pk)
    previous = _transition(order, "pack", "packed")
    order.save(update_fields=["status", "updated_at"])
    events.order_event_status(
        order=order, actor=actor, previous=previous, message="Packed."
    )
    return order


@transaction.atomic
def order_ship(*, order: Order, actor: Actor, reference: str = "") -> Order:
    """Ship everything reserved for the order in one go, without shipment
    records (the fulfillment app ships through shipments instead)."""
    order = lock_order(order.pk)
    if not (can_proceed(order.ship) or can_proceed(order.ship_partially)):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()} and cannot be shipped."
        )
    allocations = list(
        Allocation.objects.filter(order_line__order=order).select_related("order_line")
    )
    if not allocations:
        raise OrderError(f"Order {order.number} has no reserved stock to ship.")
    reference = reference or order.number
    stock_consume(
        allocations=[(a, a.quantity) for a in allocations],
        actor=actor,
        reference=reference,
    )
    shipped: dict[int, int] = {}
    for allocation in allocations:
        shipped[allocation.order_line_id] = (
            shipped.get(allocation.order_line_id, 0) + allocation.quantity
        )
    return order_shipment_record(
        order=order, actor=actor, shipped=shipped, reference=reference
    )


@transaction.atomic
def order_deliver(*, order: Order, actor: Actor) -> Order:
    """Record that the customer received the order."""
    order = lock_order(order.pk)
    previous = _transition(order, "deliver", "marked delivered")
    order.save(update_fields=["status", "updated_at"])
    events.order_event_status(
        order=order, actor=actor, previous=previous, message="Delivered."
    )
    return order


@transaction.atomic
def order_hold(*, order: Order, actor: Actor, reason: str, note: str = "") -> Order:
    """Stop work on an order; its reserved stock stays reserved."""
    if reason not in HoldReason.values:
        raise OrderError(
            f"{reason!r} is not a hold reason; choose one of: "
            + ", ".join(HoldReason.labels)
            + "."
        )
    order = lock_order(order.pk)
    _transition(order, "hold", "put on hold", reason)
    order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
    events.order_event_held(order=order, actor=actor, note=note)
    return order


@transaction.atomic
def order_release(*, order: Order, actor: Actor) -> Order:
    """Take an order off hold, back to where it was, and try to reserve stock."""
    order = lock_order(order.pk)
    _transition(order, "release", "released from hold")
    order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
    events.order_event_released(order=order, actor=actor)
    if order.status in (S.PENDING, S.BACKORDERED):
        order = _allocate_outstanding(orders=[order], actor=actor)[0]
    return order


@transaction.atomic
def order_cancel(*, order: Order, actor: Actor, reason: str = "") -> Order:
    """Cancel an order that has not shipped and give its stock back."""
    order = lock_order(order.pk)
    _transition(order, "cancel", "cancelled")
    released = stock_release(order_line_ids=order.lines.values_list("pk", flat=True))
    order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
    if released:
        events.order_event_stock_released(
            order=order, actor=actor, reason="order cancelled"
        )
    events.order_event_cancelled(order=order, actor=actor, reason=reason)
    customer_email_queue(
        order=order, kind=CustomerEmail.Kind.CANCELLED, context={"reason": reason}
    )
    return order


@transaction.atomic
def order_update(
    *,
    order: Order,
    actor: Actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> Order:
    """Change the ship-to address or delivery details of an order not yet packed.

    A new destination country re-routes the reservation, since not every
    location ships everywhere.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderError(
            "These order fields cannot be changed here: " + ", ".join(sorted(unknown))
        )
    order = lock_order(order.pk)
    if expected_version is not None and order.version != expected_version:
        raise OrderConflictError(
            f"Order {order.number} was changed by someone else while you were "
            "editing it; your changes were not saved. Reload the page and make them "
            "again."
        )
    if not order.is_editable:
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()}; its address and "
            "delivery can no longer be changed. Contact the carrier instead."
        )
    if "ship_country" in changes:
        changes["ship_country"] = str(changes["ship_country"]).upper()
    diff = {
        name: (getattr(order, name), value)
        for name, value in changes.items()
        if getattr(order, name) != value
    }
    if not diff:
        return order
    for name, (_, value) in diff.items():
        setattr(order, name, value)
    order.save(update_fields=[*diff, "updated_at"])
    events.order_event_updated(order=order, actor=actor, changes=diff)
    if "ship_country" in diff and order.status in (S.ALLOCATED, S.BACKORDERED):
        stock_release(order_line_ids=order.lines.values_list("pk", flat=True))
        events.order_event_stock_released(
            order=order, actor=actor, reason="destination country changed"
        )
        order = _allocate_outstanding(orders=[order], actor=actor)[0]
    return order


@transaction.atomic
def order_shipment_record(
    *, order: Order, actor: Actor, shipped: dict[int, int], reference: str
) -> Order:
    """Record units that left in one shipment of the order.

    The caller (fulfillment) has already taken the stock off the shelf; this
    books the shipped quantities on the lines and moves the order to shipped,
    or partially shipped while anything is still to follow.
    """
    order = lock_order(order.pk)
    if not (can_proceed(order.ship) or can_proceed(order.ship_partially)):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()} and cannot be shipped."
        )
    lines = list(order.lines.all())
    unknown = set(shipped) - {line.pk for line in lines}
    if unknown:
        raise OrderError(
            f"Shipment {reference} names lines that are not on order {order.number}."
        )
    for line in lines:
        line.quantity_shipped += shipped.get(line.pk, 0)
        if line.quantity_shipped > line.quantity:
            raise OrderError(
                f"Shipment {reference} would ship {line.quantity_shipped} of "
                f"{line.sku} on order {order.number}, which ordered {line.quantity}."
            )
    OrderLine.objects.bulk_update(lines, ["quantity_shipped"])
    history_snapshot(
        OrderLine, [line.pk for line in lines], user=actor, reason="shipped"
    )
    everything = all(line.quantity_shipped == line.quantity for line in lines)
    previous = order.status
    if everything:
        order.ship()
    else:
        order.ship_partially()
    order.save(update_fields=["status", "updated_at"])
    units = sum(shipped.values())
    events.order_event_shipped(
        order=order,
        actor=actor,
        message=f"Shipment {reference} shipped {units} unit(s)"
        + ("." if everything else "; the rest follows in another shipment."),
    )
    if order.status != previous:
        events.order_event_status(
            order=order,
            actor=actor,
            previous=previous,
            message=f"{order.get_status_display()}.",
        )
    return order
