"""Shopify's own order bodies (tests/fixtures/real/shopify, sources in its
README) through the real path: a signed webhook stored by the view, the
inbox drained by the worker, the order written. What each must become is the
table `expected.json` beside the bodies, read off their own fields."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from connections.inbox.draining import inbound_drain
from connections.models import InboundMessage
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.models import Channel, Order
from tests import factories
from tests.connections.test_inbox_draining import database_queue  # noqa: F401
from tests.connections.test_inbox_webhooks import SECRET, sign

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "shopify"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
FILES = sorted(
    name
    for name, expected in EXPECTED.items()
    if not name.startswith("_") and expected["topic"] != "refunds/create"
)
# Refund bodies (test_shopify_refunds_corpus.py).
REFUNDS = sorted(
    name
    for name, expected in EXPECTED.items()
    if not name.startswith("_") and expected["topic"] == "refunds/create"
)
SKUS = ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK", "IPOD2009BLACK")


def published(name: str) -> dict:
    """The resource (order or refund) a file holds (a REST answer keeps its
    wrapper)."""
    body = json.loads((CORPUS / name).read_text())
    # An order resource has a `refunds` list of its own: only `refund` wraps.
    for wrapper in ("order", "refund"):
        if wrapper in body:
            return body[wrapper]
    if "orders" in body:
        return body["orders"][0]
    return body


@pytest.fixture
def corpus_shop(db, location, user, database_queue):  # noqa: F811
    for sku in SKUS:
        product = factories.ProductFactory(sku=sku, name=sku)
        stock_receive(product=product, location=location, quantity=50, actor=user)
    return factories.ChannelFactory(
        code="shopify-us",
        name="Shopify US",
        platform=Channel.Platform.SHOPIFY,
        inbound_secret=SECRET,
    )


def post(client, resource: dict, *, topic: str, delivery: str):
    body = json.dumps(resource).encode()
    return client.post(
        "/api/channels/shopify-us/webhooks/shopify/",
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body),
            "X-Shopify-Webhook-Id": delivery,
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
        },
    )


def delivered(client, resource: dict, *, topic: str, delivery: str) -> InboundMessage:
    """Post a signed webhook, drain the inbox as the worker does, and return
    the stored message."""
    response = post(client, resource, topic=topic, delivery=delivery)
    assert response.status_code == 200, response.content
    inbound_drain()
    return InboundMessage.objects.get(delivery_id=delivery)


@pytest.mark.parametrize("name", FILES)
def test_published_body_becomes_the_order_shopify_meant(client, corpus_shop, name):
    expected = EXPECTED[name]

    message = delivered(client, published(name), topic=expected["topic"], delivery=name)

    assert message.status == expected["outcome"], message.error
    assert message.external_id == expected["external_id"]
    if "error" in expected:
        assert expected["error"] in message.error
    if expected["outcome"] != "processed":
        assert not Order.objects.exists()
        return
    order = message.order
    assert order.external_id == expected["external_id"]
    assert (order.status, order.hold_reason) == (
        expected["status"],
        expected["hold_reason"],
    )
    if "computed_total" in expected:
        # The body's own figures disagree: held, both on the timeline.
        assert order.stated_total == Decimal(expected["stated_total"])
        assert order.total == Decimal(expected["computed_total"])
        timeline = " ".join(order.events.values_list("message", flat=True))
        assert expected["stated_total"] in timeline
        assert expected["computed_total"] in timeline
    else:
        assert order.total == order.stated_total == Decimal(expected["total"])
    for field in ("discount_amount", "shipping_amount", "shipping_discount"):
        assert getattr(order, field) == Decimal(expected[field]), field
    assert order.tax_amount == Decimal(expected["tax_amount"])
    assert order.prices_include_tax is expected["prices_include_tax"]
    assert order.financial_status == expected["financial_status"]
    assert order.discount_codes == expected["discount_codes"]
    assert order.note == expected["note"]
    assert order.note_attributes == expected["note_attributes"]
    lines = list(order.lines.order_by("pk"))
    assert [
        {
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_amount": line.discount_amount,
            "total": line.total,
            "requires_shipping": line.requires_shipping,
            "external_id": line.external_id,
        }
        for line in lines
    ] == [
        {
            **line,
            "unit_price": Decimal(line["unit_price"]),
            "discount_amount": Decimal(line["discount_amount"]),
            "total": Decimal(line["total"]),
        }
        for line in expected["lines"]
    ]
    reserved = sum(StockLevel.objects.values_list("allocated", flat=True))
    held = expected["status"] == "on_hold"
    assert reserved == (0 if held else sum(line.quantity for line in lines))


def test_every_file_of_the_corpus_has_its_expectation():
    files = {path.name for path in CORPUS.glob("*.json")} - {"expected.json"}
    assert files == set(FILES) | set(REFUNDS)
    assert len(FILES) >= 25
    assert len(REFUNDS) >= 3
