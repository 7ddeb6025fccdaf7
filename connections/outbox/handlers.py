"""What the shops and channels must hear, learnt from the hooks the lower
apps emit.

Registered in `ConnectionsConfig.ready()` (core/hooks.py lists the hooks).
Every handler runs inside the emitting transaction and only records outbox
rows; the worker sends them after commit.
"""

from collections.abc import Iterable
from typing import Any

from connections.outbox.email import emails_record, staff_email_record
from connections.outbox.orders import outbox_order_refunded, outbox_orders_event
from connections.outbox.sending import send_on_commit
from connections.outbox.shipments import (
    outbox_shipment_shipped,
    outbox_shipment_tracking_changed,
    outbox_shipment_webhook,
)
from connections.outbox.stock import outbox_stock_changed
from fulfillment.models import Shipment


def stock_changed_record(*, product_ids: Iterable[int]) -> None:
    """`stock.changed`: queue the coalesced stock pushes."""
    outbox_stock_changed(product_ids=product_ids)


def order_event_record(
    *, event: str, order_ids: Iterable[int], reason: str = ""
) -> None:
    """`order.event`: record `order.created` / `order.cancelled`."""
    order_ids = sorted(set(order_ids))
    if order_ids:
        outbox_orders_event(event=event, order_ids=order_ids, reason=reason)


def shipment_event_record(*, event: str, shipment: Shipment) -> None:
    """`shipment.event`: the shop's fulfilment or tracking update, and the
    signed webhook of a channel with a webhook URL."""
    if event == "shipment.shipped":
        outbox_shipment_shipped(shipment=shipment)
    elif event == "shipment.tracking_changed":
        outbox_shipment_tracking_changed(shipment=shipment)
        # The channel's webhook says it as news of the tracking.
        event = "shipment.tracking_updated"
    outbox_shipment_webhook(shipment=shipment, event=event)


def refund_approved_record(**refund: Any) -> None:
    """`refund.approved`: record `order.refunded` for a generic channel."""
    outbox_order_refunded(**refund)


def customer_email_record(
    *, kind: str, order_ids: Iterable[int], key: str, context: dict[str, Any]
) -> None:
    """`customer.email`: record the e-mails to the orders' customers."""
    send_on_commit(
        emails_record(kind=kind, order_ids=list(order_ids), key=key, context=context)
    )


def staff_email_record_handler(*, to: str, subject: str, body: str) -> None:
    """`staff.email`: record an e-mail to the shop's staff."""
    send_on_commit([staff_email_record(to=to, subject=subject, body=body)])
