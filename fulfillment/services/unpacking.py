"""Cancelling an order the warehouse already has: its open shipments are
cancelled (taken off their pick lists, out of their boxes), the order goes
back to allocated and is cancelled, which gives its reserved stock back —
the items return to the shelf they came from.

The path customer service follows for a customer's cancel request on an
order that is being picked or is packed. Refused while a shipment has a
label bought (void it first: the carrier would bill it) or once anything
has shipped.
"""

from django.db import transaction

from core.users import Actor
from fulfillment.exceptions import FulfillmentError, ShipmentStateError
from fulfillment.locks import lock_order_shipments, lock_postages
from fulfillment.models import OPEN_STATUSES, ShipmentPostage
from fulfillment.services.picking import pick_list_refresh
from orders import events as order_events
from orders.models import Order, OrderStatus
from orders.services import lifecycle as order_lifecycle

UNPACKABLE = (OrderStatus.PICKING, OrderStatus.PACKED)
LABEL_HELD = (
    ShipmentPostage.Status.BUYING,
    ShipmentPostage.Status.BOUGHT,
    ShipmentPostage.Status.VOIDING,
)


@transaction.atomic
def order_unpack_and_cancel(*, order: Order, actor: Actor, reason: str) -> Order:
    """Cancel a picking or packed order: its shipments cancelled, the order
    cancelled, its stock given back. Locks the order, its open shipments,
    then their postage (the lock order)."""
    order, shipments = lock_order_shipments(order.pk, OPEN_STATUSES)
    if order.status not in UNPACKABLE:
        raise ShipmentStateError(
            f"Order {order.number} is {order.get_status_display().lower()}: only "
            "an order being picked or packed is unpacked and cancelled this way."
        )
    postages = lock_postages(shipment.pk for shipment in shipments)
    for shipment in shipments:
        postage = postages.get(shipment.pk)
        if postage is not None and postage.status in LABEL_HELD:
            raise FulfillmentError(
                f"Shipment {shipment.number} has a label "
                f"({postage.get_status_display().lower()}): void it first, "
                "then cancel the order."
            )
    reason = " ".join(reason.split())[:200] or "customer request"
    pick_lists = set()
    for shipment in shipments:
        shipment.cancel()
        shipment.save(update_fields=["status", "updated_at"])
        pick_lists.add(shipment.pick_list_id)
        order_events.order_event_fulfillment(
            order=order,
            actor=actor,
            message=f"Shipment {shipment.number} unpacked and cancelled: its "
            "items go back to the shelf.",
            data={"shipment": shipment.number},
        )
    order_lifecycle.order_unpick_locked(order=order, actor=actor, reason=reason)
    for pick_list_id in sorted(pick_list for pick_list in pick_lists if pick_list):
        pick_list_refresh(pick_list_id=pick_list_id)
    return order_lifecycle.order_cancel(order=order, actor=actor, reason=reason)
