"""Returns customers start themselves on their order page: delivered items,
within the channel's return window, through the same `return_open` staff
use (the timeline says *by the customer*)."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fulfillment.models import Shipment, ShipmentStatus
from orders.customer_access import CustomerActor
from orders.models import Order, OrderStatus
from returns.exceptions import ReturnError
from returns.models import ReturnRequest
from returns.services.returns import ReturnLineInput, return_open

NOTE_MAX = 1000


def order_delivered_at(*, order: Order) -> datetime | None:
    """When the order's last shipment was delivered (None until delivered)."""
    if order.status != OrderStatus.DELIVERED:
        return None
    delivered = Shipment.objects.filter(
        order_id=order.pk, status=ShipmentStatus.DELIVERED
    ).aggregate(last=Max("delivered_at"))["last"]
    return delivered or order.updated_at


def return_window_end(
    *, order: Order, delivered_at: datetime | None
) -> datetime | None:
    """The moment the customer can no longer start a return (None: not yet
    delivered, or the channel takes no returns on the page)."""
    days = order.channel.return_window_days
    if delivered_at is None or not days:
        return None
    return delivered_at + timedelta(days=days)


def return_allowed(*, order: Order, delivered_at: datetime | None) -> bool:
    end = return_window_end(order=order, delivered_at=delivered_at)
    return end is not None and timezone.now() <= end


@transaction.atomic
def return_open_by_customer(
    *,
    order: Order,
    actor: CustomerActor,
    lines: Sequence[ReturnLineInput],
    note: str = "",
) -> ReturnRequest:
    """Open a return (requested) for delivered items of the order, within the
    channel's return window; customer service approves or rejects it."""
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ReturnError(
            f"Your note: keep it under {NOTE_MAX} characters (it has {len(note)})."
        )
    if "\x00" in note:
        raise ReturnError("Your note contains a character that cannot be stored.")
    if order.status != OrderStatus.DELIVERED:
        raise ReturnError(
            f"Order {order.number} has not been delivered yet; items can be "
            "returned once they have arrived."
        )
    delivered_at = order_delivered_at(order=order)
    end = return_window_end(order=order, delivered_at=delivered_at)
    if end is None:
        raise ReturnError(
            f"Returns of order {order.number} cannot be started here; write to "
            "customer service."
        )
    if timezone.now() > end:
        raise ReturnError(
            f"The return window of order {order.number} closed on "
            f"{timezone.localtime(end):%d %b %Y} "
            f"({order.channel.return_window_days} days after delivery)."
        )
    return return_open(order=order, lines=lines, actor=actor, note=note)
