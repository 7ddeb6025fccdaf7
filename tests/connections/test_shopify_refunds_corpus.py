"""Shopify's own refund bodies (tests/fixtures/real/shopify, sources in its
README) through the real path: the order they name taken in from its
published body, then the signed `refunds/create` webhook stored by the view,
the inbox drained by the worker, the refund recorded on the order. What each
must become is its entry in `expected.json`, read off the body's own fields
(transactions, each refunded line's `subtotal` and `total_tax`, the shipping
adjustments), never computed by the code under test."""

from decimal import Decimal

import pytest

from connections.inbox.draining import inbound_drain
from connections.models import InboundMessage
from inventory.models import StockLevel
from orders.models import Order
from returns.models import Refund
from tests.connections.test_inbox_draining import database_queue  # noqa: F401
from tests.connections.test_shopify_corpus import (
    EXPECTED,
    REFUNDS,
    corpus_shop,  # noqa: F401
    delivered,
    post,
    published,
)

Status = InboundMessage.Status


def order_taken(client, name: str) -> Order:
    """Take in the order a refund names, from its published body."""
    order_file = EXPECTED[name]["order"]
    message = delivered(
        client, published(order_file), topic="orders/create", delivery=order_file
    )
    assert message.status == Status.PROCESSED, message.error
    return message.order


def refund_delivered(client, name: str, delivery: str = "") -> InboundMessage:
    return delivered(
        client, published(name), topic="refunds/create", delivery=delivery or name
    )


def assert_recorded(order: Order, name: str) -> None:
    """The refund, its lines, the timeline, the payment state and the hold are
    what `expected.json` says."""
    expected = EXPECTED[name]
    order.refresh_from_db()
    refund = Refund.objects.get(order=order)
    assert refund.status == Refund.Status.APPROVED
    assert refund.amount == Decimal(expected["amount"])
    assert refund.external_reference == f"shopify-refund:{published(name)['id']}"
    for part, figure in expected["parts"].items():
        assert getattr(refund, part) == Decimal(figure), part
    assert [
        (line.order_line.sku, line.quantity, line.amount)
        for line in refund.lines.order_by("order_line__sku")
    ] == sorted(
        (line["sku"], line["quantity"], Decimal(line["amount"]))
        for line in expected["lines"]
    )
    assert order.financial_status == expected["financial_status"]
    assert (order.status, order.hold_reason) == (
        expected["status"],
        expected["hold_reason"],
    )
    timeline = " ".join(order.events.values_list("message", flat=True))
    assert f"Refunded in Shopify: {expected['amount']} {expected['currency']}" in (
        timeline
    )
    for line in expected["lines"]:
        assert f"{line['quantity']} × {line['sku']} ({line['amount']})" in timeline
    if expected["shipping"] != "0.00":
        assert f"shipping {expected['shipping']}" in timeline
    if expected["hold_note"]:
        assert f"Refunded by the shop (Shopify): {expected['hold_note']}" in timeline
    else:
        assert "Refunded by the shop" not in timeline
    # A hold keeps what was reserved: staff decide what ships.
    reserved = sum(StockLevel.objects.values_list("allocated", flat=True))
    assert reserved == sum(order.lines.values_list("quantity", flat=True))


@pytest.mark.parametrize("name", REFUNDS)
def test_published_refund_is_recorded_on_its_order(client, corpus_shop, name):  # noqa: F811
    order = order_taken(client, name)

    message = refund_delivered(client, name)

    assert message.status == EXPECTED[name]["outcome"], message.error
    assert message.external_id == EXPECTED[name]["external_id"]
    assert message.order == order
    assert_recorded(order, name)


def test_refund_lines_are_paid_back_at_the_discounted_price(client, corpus_shop):  # noqa: F811
    # #1001's lines cost 199.00 each before the TENOFF code; Shopify refunds
    # what the customer paid for them: 195.66 and 195.67, plus their tax.
    name = "rest-2024-04-refund-two-lines-discounted.json"
    order = order_taken(client, name)

    refund_delivered(client, name)

    paid_back = {
        line.order_line.sku: (line.amount, line.order_line)
        for line in Refund.objects.get(order=order).lines.all()
    }
    for line in EXPECTED[name]["lines"]:
        amount, order_line = paid_back[line["sku"]]
        assert amount == Decimal(line["subtotal"]) + Decimal(line["tax"])
        assert amount == Decimal(line["amount"])
        assert Decimal(line["subtotal"]) < order_line.unit_price * line["quantity"]


@pytest.mark.parametrize("name", REFUNDS)
def test_refund_delivered_twice_is_recorded_once(client, corpus_shop, name):  # noqa: F811
    order = order_taken(client, name)
    refund_delivered(client, name)

    # Shopify retries with the same webhook id: stored once.
    again = post(client, published(name), topic="refunds/create", delivery=name)
    # The same refund under another webhook id (a second subscription).
    other = refund_delivered(client, name, delivery=f"{name}-again")

    assert again.json()["duplicate"] is True
    assert other.status == Status.DUPLICATE
    assert other.order == order
    assert Refund.objects.filter(order=order).count() == 1
    assert_recorded(order, name)


def test_same_refund_from_two_libraries_is_recorded_once(client, corpus_shop):  # noqa: F811
    name = "python-api-refund.json"
    first = EXPECTED[name]["same_refund_as"]
    order = order_taken(client, first)
    refund_delivered(client, first)

    message = refund_delivered(client, name)

    assert message.status == Status.DUPLICATE
    assert Refund.objects.filter(order=order).count() == 1
    assert_recorded(order, first)


@pytest.mark.parametrize("name", REFUNDS)
def test_refund_before_its_order_is_kept_and_applied_when_it_arrives(
    client,
    corpus_shop,  # noqa: F811
    name,
):
    early = refund_delivered(client, name)
    assert early.status == Status.EARLY, early.error
    assert "not here yet" in early.error
    assert not Refund.objects.exists()

    order = order_taken(client, name)

    early.refresh_from_db()
    assert early.status == Status.PROCESSED, early.error
    assert early.order == order
    assert_recorded(order, name)


@pytest.mark.parametrize("refund_first", [False, True])
def test_refund_in_the_batch_that_takes_its_order_in(client, corpus_shop, refund_first):  # noqa: F811
    name = "rest-2024-04-refund-two-lines-discounted.json"
    order_file = EXPECTED[name]["order"]
    posts = [
        (published(order_file), "orders/create", order_file),
        (published(name), "refunds/create", name),
    ]
    for resource, topic, delivery in reversed(posts) if refund_first else posts:
        assert post(client, resource, topic=topic, delivery=delivery).status_code == 200

    inbound_drain()

    refund_message = InboundMessage.objects.get(delivery_id=name)
    assert refund_message.status == Status.PROCESSED, refund_message.error
    assert_recorded(refund_message.order, name)
