"""A refund made in Shopify (`refunds/create`), recorded on its order.

Shopify names the refunded order by its numeric id only; the order keeps
that id (`Order.platform_id`, from its webhook body or the export's Id
column), so it is found through an index. A
refund of an order not here yet is kept (`Status.EARLY`, under the order's
key `shopify-order:<id>`) and applied when the order arrives
(`processing.orders_arrived`).
"""

from typing import Any

from django.utils.translation import gettext as _

from connections.inbox.applying import Batch, Outcome, order_early
from connections.inbox.payload import FieldProblem, PayloadError
from connections.models import InboundMessage
from connections.shopify import inbound as shopify
from orders.models import Channel, Order
from returns.services.shop_refunds import ShopRefundLine, refund_record_from_shop

Status = InboundMessage.Status


def shopify_order_of(channel: Channel, order_id: str) -> Order | None:
    """The channel's order that Shopify knows by `order_id` (its
    `platform_id`, kept from the order's body or the export's Id column)."""
    if not order_id.isdigit():
        return None
    return (
        Order.objects.filter(channel=channel, platform_id=order_id)
        .order_by("pk")
        .first()
    )


def shopify_refund_apply(
    message: InboundMessage, body: Any, batch: Batch | None
) -> Outcome:
    """Record a Shopify refund on its order (`refund_record_from_shop`): the
    money and lines as the body states them (its transactions, and each
    refunded line's `subtotal`, after discounts, plus `total_tax`)."""
    if not shopify.shopify_is_refund(body):
        raise PayloadError(
            [
                FieldProblem(
                    "(body)",
                    _(
                        "is not a Shopify refund (no order_id with "
                        "refund_line_items or transactions); check the webhook's "
                        "topic in Shopify."
                    ),
                )
            ]
        )
    refund = shopify.shopify_refund(body)
    key = shopify.shopify_order_key(refund.order_id)
    if not refund.refund_id or not key:
        raise PayloadError(
            [
                FieldProblem(
                    "id" if key else "order_id", _("is missing or not a number.")
                )
            ]
        )
    order = shopify_order_of(message.channel, refund.order_id)
    if order is None:
        return order_early(
            message,
            key,
            _("Shopify refunded order %(id)s") % {"id": refund.order_id},
        )
    recorded = refund_record_from_shop(
        order=order,
        reference=f"shopify-refund:{refund.refund_id}",
        amount=refund.amount,
        lines=[
            ShopRefundLine(sku=line.sku, quantity=line.quantity, amount=line.amount)
            for line in refund.lines
        ],
        shipping_amount=refund.shipping,
        note=refund.note,
        source="Shopify",
        inbound_message_id=message.pk,
    )
    if recorded.duplicate:
        return Outcome(Status.DUPLICATE, recorded.order)
    return Outcome(Status.PROCESSED, recorded.order)
