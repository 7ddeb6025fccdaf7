"""The shop's payment state of an order: an order the channel does not take in
yet waits on hold (awaiting payment) without stock; when the shop reports it
paid, it is released and its stock reserved.

Each service reads top to bottom: lock, check, act, record, notify after
commit.
"""

from django.db import transaction

from core.users import Actor
from orders import events
from orders.exceptions import OrderError
from orders.intake import payment_note
from orders.locks import lock_order
from orders.models import HOLDABLE, FinancialStatus, HoldReason, Order, OrderStatus
from orders.services.allocation import orders_allocate_locked

# Where an order released from its payment hold goes on to allocation.
TO_ALLOCATE = (OrderStatus.PENDING, OrderStatus.BACKORDERED)


@transaction.atomic
def order_payment_update(
    *,
    order: Order,
    financial_status: str,
    actor: Actor = None,
    source: str = "",
    inbound_message_id: int | None = None,
) -> Order:
    """Record the shop's new payment state of an order (`source` names who
    said so, e.g. "Shopify").

    An order on hold awaiting payment whose new state the channel takes in
    is released and its stock reserved. An order not yet picked whose shop
    takes the payment back (voided, refunded…) goes on hold awaiting payment;
    what it has reserved stays reserved until someone cancels or releases it.
    Any other order only records the state (an order held for another reason
    keeps its hold).
    """
    financial_status = financial_status.strip().lower()
    if financial_status not in (*FinancialStatus.values, ""):
        raise OrderError(
            f"{financial_status!r} is not a payment state; use one of "
            + ", ".join(FinancialStatus.values)
            + "."
        )
    order = lock_order(order.pk)
    previous = order.financial_status
    if previous == financial_status:
        return order
    order.financial_status = financial_status
    order.save(update_fields=["financial_status", "updated_at"])
    events.order_event_payment(
        order=order,
        actor=actor,
        previous=previous,
        source=source,
        inbound_message_id=inbound_message_id,
    )
    accepted = order.channel.accepts_payment(financial_status)
    if (
        accepted
        and order.status == OrderStatus.ON_HOLD
        and order.hold_reason == HoldReason.PAYMENT
    ):
        order.release()
        order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
        events.order_event_released(order=order, actor=actor)
        if order.status in TO_ALLOCATE:
            order = orders_allocate_locked(orders=[order], actor=actor)[0]
    elif not accepted and order.status in HOLDABLE:
        order.hold(HoldReason.PAYMENT)
        order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
        events.order_event_held(
            order=order,
            actor=actor,
            note=payment_note(financial_status=financial_status, channel=order.channel),
            data={"financial_status": financial_status},
        )
    return order


def payment_hold_again(*, order: Order, actor: Actor) -> bool:
    """Put an order just released from another hold (a total, an address)
    back on hold when its payment is still not taken in; return whether it
    was. The caller holds the order's lock."""
    if order.status not in TO_ALLOCATE or order.channel.accepts_payment(
        order.financial_status
    ):
        return False
    order.hold(HoldReason.PAYMENT)
    order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
    events.order_event_held(
        order=order,
        actor=actor,
        note=payment_note(
            financial_status=order.financial_status, channel=order.channel
        ),
        data={"financial_status": order.financial_status},
    )
    return True
