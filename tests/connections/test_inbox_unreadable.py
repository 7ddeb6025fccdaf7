"""A correctly signed webhook whose body cannot be read is stored as failed,
with the reason, and answered 200: the shop's retries of the delivery are
duplicates, never a second row and never a 500."""

import json

import pytest

from connections.models import InboundMessage
from orders.models import Channel
from tests import factories
from tests.connections.test_inbox_webhooks import SECRET, sign
from tests.test_wsgi import call

Status = InboundMessage.Status

UNREADABLE = [
    (b'{"id": 1, "line_items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deeply"),
    (b'{"id": 1, "name": ', "not valid JSON"),
    (b'{"id": 1, "name": "#1\\u0000"}', "NUL character (\\u0000) in $.name"),
    (b'{"id": 1, "name": "\xff"}', "not UTF-8"),
    (b'[{"id": 1}]', "not an object"),
]
IDS = ["nested", "invalid", "nul", "not-utf8", "array"]


@pytest.fixture
def shop(db):
    return factories.ChannelFactory(
        code="shopify-us", platform=Channel.Platform.SHOPIFY, inbound_secret=SECRET
    )


@pytest.fixture
def woo(db):
    return factories.ChannelFactory(
        code="woo-de", platform=Channel.Platform.WOOCOMMERCE, inbound_secret=SECRET
    )


def shopify(body, *, delivery="d-1", signature=None):
    return call(
        "POST",
        "/api/channels/shopify-us/webhooks/shopify/",
        body,
        X_SHOPIFY_HMAC_SHA256=signature or sign(body),
        X_SHOPIFY_TOPIC="orders/create",
        X_SHOPIFY_WEBHOOK_ID=delivery,
    )


def woocommerce(body, *, delivery="w-1"):
    return call(
        "POST",
        "/api/channels/woo-de/webhooks/woocommerce/",
        body,
        X_WC_WEBHOOK_SIGNATURE=sign(body),
        X_WC_WEBHOOK_TOPIC="order.created",
        X_WC_WEBHOOK_DELIVERY_ID=delivery,
    )


@pytest.mark.parametrize("body, says", UNREADABLE, ids=IDS)
def test_signed_shopify_body_that_cannot_be_read_is_stored_failed(shop, body, says):
    status, _, content = shopify(body)

    assert status == 200, content[:300]
    message = InboundMessage.objects.get()
    assert json.loads(content) == {"received": message.pk, "duplicate": False}
    assert message.status == Status.FAILED
    assert says in message.error
    assert message.processed_at is not None
    assert message.delivery_id == "d-1"
    assert len(message.body) == len(body.decode("utf-8", "replace"))


def test_the_shops_retry_of_an_unreadable_delivery_is_a_duplicate(shop):
    body = UNREADABLE[0][0]
    _, _, first = shopify(body)

    status, _, again = shopify(body)

    assert status == 200
    assert json.loads(again) == {
        "received": json.loads(first)["received"],
        "duplicate": True,
    }
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize("body, says", UNREADABLE, ids=IDS)
def test_signed_woocommerce_body_that_cannot_be_read_is_stored_failed(woo, body, says):
    status, _, content = woocommerce(body)
    status_again, _, again = woocommerce(body)

    assert status == 200 and status_again == 200
    message = InboundMessage.objects.get()
    assert message.status == Status.FAILED and says in message.error
    assert json.loads(again) == {"received": message.pk, "duplicate": True}


def test_an_unsigned_unreadable_body_is_still_refused_401(shop):
    status, headers, content = shopify(UNREADABLE[0][0], signature="bad")

    assert status == 401
    assert headers["content-type"] == ["application/json"]
    assert "signature" in json.loads(content)["detail"]
    assert not InboundMessage.objects.exists()
