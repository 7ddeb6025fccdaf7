"""Shopify refunds beyond the published bodies: written cases through the
same signed webhook path (the published order #1001 taken in first)."""

from decimal import Decimal

from connections.models import InboundMessage
from orders.models import OrderStatus
from orders.services.lifecycle import order_start_picking
from returns.models import Refund
from tests.connections.test_inbox_draining import database_queue  # noqa: F401
from tests.connections.test_shopify_corpus import (
    corpus_shop,  # noqa: F401
    delivered,
    published,
)

Status = InboundMessage.Status
ORDER_FILE = "rest-2024-04-orders-list.json"  # #1001, total 598.94


def refund_body(refund_id: int, amount: str, lines: list[tuple[str, str, str]]):
    """A refund of #1001 (Shopify order 450789469): lines as (sku, subtotal,
    tax), one unit each; one successful refund transaction of `amount`."""
    return {
        "id": refund_id,
        "order_id": 450789469,
        "note": "written for the test",
        "refund_line_items": [
            {
                "quantity": 1,
                "subtotal": subtotal,
                "total_tax": tax,
                "line_item": {"sku": sku, "name": sku},
            }
            for sku, subtotal, tax in lines
        ],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": amount},
            {"kind": "refund", "status": "failure", "amount": "1.00"},
        ],
        "order_adjustments": [],
    }


def take_order(client):
    message = delivered(
        client, published(ORDER_FILE), topic="orders/create", delivery="order"
    )
    return message.order


def test_full_refund_makes_the_order_refunded_and_holds_it(client, corpus_shop):  # noqa: F811
    order = take_order(client)
    # The order keeps Shopify's numeric id, which the refund names it by.
    assert order.platform_id == str(published(ORDER_FILE)["id"])
    body = refund_body(
        1,
        "598.94",
        [
            ("IPOD2008GREEN", "195.66", "3.98"),
            ("IPOD2008RED", "195.67", "3.98"),
            ("IPOD2008BLACK", "195.67", "3.98"),
        ],
    )

    message = delivered(client, body, topic="refunds/create", delivery="r1")

    assert message.status == Status.PROCESSED, message.error
    order.refresh_from_db()
    assert order.financial_status == "refunded"
    # Shopify took the payment back: held awaiting payment, and the refunded
    # units named on the timeline.
    assert (order.status, order.hold_reason) == (OrderStatus.ON_HOLD, "payment")
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.lines_amount, refund.extra_amount) == (
        Decimal("598.94"),
        Decimal("598.94"),
        Decimal("0.00"),
    )
    timeline = " ".join(order.events.values_list("message", flat=True))
    assert (
        "Refunded by the shop (Shopify): 1 × IPOD2008GREEN, 1 × IPOD2008RED, "
        "1 × IPOD2008BLACK; check before shipping." in timeline
    )


def test_refund_of_an_order_being_picked_is_on_its_timeline(client, corpus_shop):  # noqa: F811
    order = take_order(client)
    order_start_picking(order=order, actor=None)

    delivered(
        client,
        refund_body(2, "199.65", [("IPOD2008RED", "195.67", "3.98")]),
        topic="refunds/create",
        delivery="r2",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING
    assert order.financial_status == "partially_refunded"
    timeline = " ".join(order.events.values_list("message", flat=True))
    assert "Refunded by the shop (Shopify): 1 × IPOD2008RED" in timeline


def test_refunded_sku_the_order_lacks_is_named(client, corpus_shop):  # noqa: F811
    order = take_order(client)

    delivered(
        client,
        refund_body(3, "10.00", [("NOT-ON-ORDER", "10.00", "0.00")]),
        topic="refunds/create",
        delivery="r3",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    refund = Refund.objects.get(order=order)
    assert not refund.lines.exists()
    assert refund.extra_amount == Decimal("10.00")
    timeline = " ".join(order.events.values_list("message", flat=True))
    assert "1 × NOT-ON-ORDER (10.00, not on this order)" in timeline


def test_body_that_is_no_refund_fails_naming_why(client, corpus_shop):  # noqa: F811
    message = delivered(
        client, {"id": 4, "note": "no order"}, topic="refunds/create", delivery="r4"
    )

    assert message.status == Status.FAILED
    assert "is not a Shopify refund" in message.error
