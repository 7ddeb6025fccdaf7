"""The life of an order after allocation: picking, packing, shipments,
delivery, holds and cancelling.

Warehouse work itself (pick lists, shipments) lives in `fulfillment`,
which calls these services to move the order along.
"""

from typing import Any

from django.db import transaction
from django.utils.translation import ngettext
from django_fsm import can_proceed

from core.history import history_context
from core.hooks import ORDER_EVENT, hook_emit
from core.users import Actor
from inventory.services import stock_release
from orders import events
from orders.emails import customer_email_queue
from orders.exceptions import OrderError, OrderStateError
from orders.locks import lock_order
from orders.models import (
    EmailKind,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Rule,
)
from orders.rules.services import rules_apply
from orders.services.allocation import orders_allocate_locked
from orders.services.payment import payment_hold_again


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


def _status_step(
    *, order: Order, actor: Actor, name: str, verb: str, message: str
) -> Order:
    """Lock the order, take one plain status transition and record it."""
    order = lock_order(order.pk)
    previous = _transition(order, name, verb)
    order.save(update_fields=["status", "updated_at"])
    events.order_event_status(
        order=order, actor=actor, previous=previous, message=message
    )
    return order


@transaction.atomic
def order_start_picking(*, order: Order, actor: Actor) -> Order:
    """Mark an allocated order as being picked."""
    return _status_step(
        order=order,
        actor=actor,
        name="start_picking",
        verb="picked",
        message="Picking started.",
    )


@transaction.atomic
def order_pack(*, order: Order, actor: Actor) -> Order:
    """Mark a picked order as packed, then run the "when packed" rules."""
    order = _status_step(
        order=order, actor=actor, name="pack", verb="packed", message="Packed."
    )
    if rules_apply(
        order_ids=[order.pk], trigger=Rule.Trigger.PACKED, actor=actor
    ).changed:
        order.refresh_from_db()
    return order


@transaction.atomic
def order_deliver(*, order: Order, actor: Actor) -> Order:
    """Record that the customer received the order."""
    return _status_step(
        order=order,
        actor=actor,
        name="deliver",
        verb="marked delivered",
        message="Delivered.",
    )


def order_unpick_locked(*, order: Order, actor: Actor, reason: str) -> Order:
    """Take a picking or packed order back to allocated (its shipments were
    cancelled and its items go back to the shelf, still reserved). The caller
    (fulfillment) holds the order's lock and has cancelled its shipments."""
    previous = _transition(order, "unpick", "taken back from picking or packing")
    order.save(update_fields=["status", "updated_at"])
    events.order_event_status(
        order=order,
        actor=actor,
        previous=previous,
        message=f"Taken back from the warehouse ({reason}); its stock is still "
        "reserved.",
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
    reason = order.hold_reason
    _transition(order, "release", "released from hold")
    order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
    events.order_event_released(order=order, actor=actor)
    # Released from another hold (a total, an address) while the shop has
    # not reported it paid: it waits for the payment, without stock. A
    # person releasing the payment hold itself decides it is paid.
    if reason != HoldReason.PAYMENT and payment_hold_again(order=order, actor=actor):
        return order
    if order.status in (OrderStatus.PENDING, OrderStatus.BACKORDERED):
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
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
        order=order, kind=EmailKind.CANCELLED, context={"reason": reason}
    )
    hook_emit(ORDER_EVENT, event="order.cancelled", order_ids=[order.pk], reason=reason)
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
    with history_context(actor=actor, reason="shipped"):
        OrderLine.objects.bulk_update(lines, ["quantity_shipped"])
    # Lines that do not ship (gift cards, digital items) never count.
    everything = all(
        line.quantity_shipped == line.quantity
        for line in lines
        if line.requires_shipping
    )
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
        message=ngettext(
            "Shipment %(reference)s shipped %(count)d unit",
            "Shipment %(reference)s shipped %(count)d units",
            units,
        )
        % {"reference": reference, "count": units}
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


@transaction.atomic
def order_shipment_reverse(
    *,
    order: Order,
    actor: Actor,
    unshipped: dict[int, int],
    reference: str,
    others_open: bool,
) -> Order:
    """Undo `order_shipment_record` for a shipment that did not leave after
    all (its label was voided): the lines count the units as not shipped and
    the order goes back to partially shipped (other units left), picking
    (`others_open`: another shipment is still being picked) or packed."""
    order = lock_order(order.pk)
    if not can_proceed(order.unship, OrderStatus.PACKED):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()}; shipment "
            f"{reference} cannot be taken back."
        )
    lines = list(order.lines.all())
    for line in lines:
        line.quantity_shipped -= unshipped.get(line.pk, 0)
        if line.quantity_shipped < 0:
            raise OrderError(
                f"Shipment {reference} would take back more {line.sku} than "
                f"order {order.number} shipped."
            )
    with history_context(actor=actor, reason="unshipped"):
        OrderLine.objects.bulk_update(lines, ["quantity_shipped"])
    if any(line.quantity_shipped for line in lines):
        back_to = OrderStatus.PARTIALLY_SHIPPED
    else:
        back_to = OrderStatus.PICKING if others_open else OrderStatus.PACKED
    previous = order.status
    order.unship(back_to)
    order.save(update_fields=["status", "updated_at"])
    events.order_event_shipped(
        order=order,
        actor=actor,
        message=ngettext(
            "Shipment %(reference)s did not leave: %(count)d unit is back on the "
            "shelf, reserved.",
            "Shipment %(reference)s did not leave: %(count)d units are back on the "
            "shelf, reserved.",
            sum(unshipped.values()),
        )
        % {"reference": reference, "count": sum(unshipped.values())},
    )
    if order.status != previous:
        events.order_event_status(
            order=order,
            actor=actor,
            previous=previous,
            message=f"{order.get_status_display()}.",
        )
    return order
