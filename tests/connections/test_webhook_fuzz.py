"""The shop webhooks and the carrier endpoint fuzzed (hypothesis): any body
(bytes, JSON of any shape and depth, the shop's own order with fields
replaced), signed or not, with any of their headers, is answered below 500
with a JSON body. Called through oms.wsgi.application, the lean /api/ stack."""

import hashlib
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Channel
from tests import factories
from tests.connections.test_inbox_webhooks import (
    SECRET,
    shopify_order,
    sign,
    woo_order,
)
from tests.test_wsgi import call

TOKEN = "carrier-token"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

header_text = st.text(
    st.characters(min_codepoint=0, max_codepoint=255), max_size=80
)  # WSGI gives header values as latin-1 strings
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)

# Around the limit (64) and past what Python's parser reads (about 1000).
depths = st.sampled_from([1, 63, 64, 65, 999, 5000, 100_000])


def deep(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def bodies(resource) -> st.SearchStrategy[bytes]:
    """Bytes, any JSON, nested JSON, and the platform's order with one field
    replaced by any JSON value."""
    order = resource()
    mutated = st.builds(
        lambda key, value: json.dumps({**order, key: value}).encode(),
        st.sampled_from(sorted(order)),
        json_value,
    )
    return st.one_of(
        st.binary(max_size=400),
        json_value.map(lambda value: json.dumps(value).encode()),
        depths.map(deep),
        mutated,
    )


def assert_json_below_500(status, headers, content):
    assert status < 500, content[:500]
    assert headers["content-type"] == ["application/json"], content[:200]
    json.loads(content)


@pytest.fixture
def shops(db, product, stock):
    stock(product, 1000)
    factories.ChannelFactory(
        code="shopify-us", platform=Channel.Platform.SHOPIFY, inbound_secret=SECRET
    )
    factories.ChannelFactory(
        code="woo-de", platform=Channel.Platform.WOOCOMMERCE, inbound_secret=SECRET
    )


@FUZZ
@given(
    body=bodies(shopify_order),
    signed=st.booleans(),
    topic=st.sampled_from(["orders/create", "orders/updated", "orders/cancelled"])
    | header_text,
    delivery=header_text,
    extra=st.dictionaries(
        st.sampled_from(["X_SHOPIFY_SHOP_DOMAIN", "X_SHOPIFY_API_VERSION"]),
        header_text,
    ),
)
def test_shopify_webhook_never_answers_5xx(shops, body, signed, topic, delivery, extra):
    status, headers, content = call(
        "POST",
        "/api/channels/shopify-us/webhooks/shopify/",
        body,
        X_SHOPIFY_HMAC_SHA256=sign(body) if signed else "bad",
        X_SHOPIFY_TOPIC=topic,
        X_SHOPIFY_WEBHOOK_ID=delivery,
        **extra,
    )
    assert_json_below_500(status, headers, content)
    assert status == (200 if signed else 401)


@FUZZ
@given(
    body=bodies(woo_order) | st.just(b"webhook_id=12"),
    signed=st.booleans(),
    topic=st.sampled_from(["order.created", "order.updated", "order.deleted"])
    | header_text,
    delivery=header_text,
)
def test_woocommerce_webhook_never_answers_5xx(shops, body, signed, topic, delivery):
    status, headers, content = call(
        "POST",
        "/api/channels/woo-de/webhooks/woocommerce/",
        body,
        X_WC_WEBHOOK_SIGNATURE=sign(body) if signed else "bad",
        X_WC_WEBHOOK_TOPIC=topic,
        X_WC_WEBHOOK_DELIVERY_ID=delivery,
    )
    assert_json_below_500(status, headers, content)
    assert status == (200 if signed or body.startswith(b"webhook_id=") else 401)


def easypost_event(result) -> dict:
    return {"object": "Event", "description": "tracker.updated", "result": result}


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=400),
        json_value.map(lambda value: json.dumps(value).encode()),
        depths.map(deep),
        json_value.map(lambda value: json.dumps(easypost_event(value)).encode()),
        json_value.map(lambda value: json.dumps({"events": [value]}).encode()),
    ),
    how=st.sampled_from(["bearer", "hmac", "none", "wrong"]),
    method=st.sampled_from(["POST", "POST", "GET", "PUT"]),
)
def test_carrier_endpoint_never_answers_5xx(carrier, body, how, method):
    if not carrier.webhook_token:
        carrier.webhook_token = TOKEN
        carrier.save()
    auth = {
        "bearer": {"AUTHORIZATION": f"Bearer {TOKEN}"},
        "hmac": {
            "X_HMAC_SIGNATURE": "hmac-sha256-hex="
            + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        },
        "none": {},
        "wrong": {"AUTHORIZATION": "Basic !!!"},
    }[how]
    status, headers, content = call(
        method, f"/api/carriers/{carrier.code}/tracking/", body, **auth
    )
    assert_json_below_500(status, headers, content)
