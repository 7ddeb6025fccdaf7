"""What the channels hear about shipments: the shop's fulfilment and tracking
(Shopify, WooCommerce), and our signed webhooks (`shipment.shipped`,
`shipment.tracking_updated`, `shipment.delivered`) for every channel with a
webhook URL.

All of it is recorded in the outbox in the transaction of the change, so the
payload describes the shipment as that change left it, and it is sent, retried
and logged like every other message.
"""

from typing import Any

from django.utils import timezone

from connections.models import OutboundMessage
from connections.outbox.rules import GENERIC, SHOPS, WOOCOMMERCE, platform_of
from connections.outbox.services import message_id_new, outbox_record
from fulfillment.models import Shipment
from orders.models import Channel

Kind = OutboundMessage.Kind
WEBHOOK_EVENTS = (
    Kind.SHIPMENT_SHIPPED,
    Kind.SHIPMENT_TRACKING,
    Kind.SHIPMENT_DELIVERED,
)


def shipment_shop_payload(*, shipment: Shipment, channel: Channel) -> dict[str, Any]:
    """What a shop's API is told about a shipment (Shopify, WooCommerce)."""
    shipment = Shipment.objects.select_related("order", "carrier").get(pk=shipment.pk)
    order = shipment.order
    carrier = shipment.carrier
    return {
        "order": {"number": order.number, "external_id": order.external_id},
        "shipment": shipment.number,
        "tracking": {
            "number": shipment.tracking_number,
            "company": carrier.name if carrier else "",
            "url": shipment.tracking_url,
        },
        "lines": [
            {"sku": line.order_line.sku, "quantity": line.quantity}
            for line in shipment.lines.select_related("order_line").order_by("pk")
        ],
        # When the OMS mails the customer, the shop must not mail them too.
        "notify_customer": not channel.send_customer_emails,
        "complete": order.status in ("shipped", "delivered"),
    }


def shipment_webhook_payload(*, shipment: Shipment, event: str) -> dict[str, Any]:
    """What a signed shipment webhook says (two queries: order, lines)."""
    shipment = Shipment.objects.select_related("order", "carrier").get(pk=shipment.pk)
    order = shipment.order
    lines = shipment.lines.select_related("order_line").order_by("pk")
    carrier = shipment.carrier
    return {
        "event": event,
        "order": {
            "number": order.number,
            "external_id": order.external_id,
            "status": order.status,
        },
        "shipment": {
            "number": shipment.number,
            "status": shipment.status,
            "exception_reason": shipment.exception_reason,
            "carrier": {"code": carrier.code, "name": carrier.name}
            if carrier
            else None,
            "service": shipment.service,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "shipped_at": shipment.shipped_at,
            "estimated_delivery": shipment.estimated_delivery,
            "delivered_at": shipment.delivered_at,
        },
        "lines": [
            {
                "sku": line.order_line.sku,
                "name": line.order_line.name,
                "quantity": line.quantity,
            }
            for line in lines
        ],
        "occurred_at": timezone.now(),
    }


def shop_channel(order_id: int) -> Channel | None:
    """The order's channel when it is an active Shopify or WooCommerce shop."""
    channel = Channel.objects.get(orders__pk=order_id)
    if not channel.active or platform_of(channel) not in SHOPS:
        return None
    return channel


def outbox_shipment_shipped(*, shipment: Shipment) -> OutboundMessage | None:
    """Tell the order's shop that the shipment left, with its tracking.

    Shopify: a fulfillment on the order's fulfillment orders. WooCommerce: a
    note with carrier and tracking, and the order completed once everything
    has shipped.
    """
    channel = shop_channel(shipment.order_id)
    if channel is None:
        return None
    payload = shipment_shop_payload(shipment=shipment, channel=channel)
    kind = Kind.FULFILLMENT_CREATE
    if platform_of(channel) == WOOCOMMERCE and payload["complete"]:
        kind = Kind.ORDER_COMPLETED
    return outbox_record(
        channel=channel,
        kind=kind,
        key=shipment.number,
        payload=payload,
        order=shipment.order,
        shipment=shipment,
    )


def outbox_shipment_tracking_changed(*, shipment: Shipment) -> OutboundMessage | None:
    """Tell the order's shop the shipment's new carrier and tracking number."""
    channel = shop_channel(shipment.order_id)
    if channel is None:
        return None
    payload = shipment_shop_payload(shipment=shipment, channel=channel)
    payload["complete"] = False
    return outbox_record(
        channel=channel,
        kind=Kind.TRACKING_UPDATE,
        key=f"{shipment.number}:{shipment.version}",
        payload=payload,
        order=shipment.order,
        shipment=shipment,
    )


def outbox_shipment_webhook(
    *, shipment: Shipment, event: str
) -> OutboundMessage | None:
    """Record the signed shipment webhook for the order's channel, when it has
    a webhook URL (whatever its platform); every call is a new message."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"{event!r} is not a shipment webhook the outbox sends.")
    channel = Channel.objects.get(pk=shipment.order.channel_id)
    if not channel.webhook_url:
        return None
    return outbox_record(
        channel=channel,
        kind=event,
        # One message per change: the same shipment is told of many.
        key=f"{shipment.number}:{message_id_new()}",
        payload=shipment_webhook_payload(shipment=shipment, event=event),
        order=shipment.order,
        shipment=shipment,
        platform=GENERIC,
        stamped=False,
        unique_key=True,
    )
