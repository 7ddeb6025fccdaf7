"""Under /api/ every error is JSON: bodies nested too deeply, holding NUL, not
UTF-8, too large; a NUL in the address; Django's own 404, 405 and 500.

Called through oms.wsgi.application (the lean /api/ stack gunicorn runs) and
through Django's test client (the full stack)."""

import json

import pytest
from django.conf import settings

from connections.api import views
from connections.models import InboundMessage
from connections.services.api_keys import channel_api_key_create
from core.json_body import MAX_JSON_DEPTH
from orders.models import Order
from tests.connections.test_api_views import order_body
from tests.test_wsgi import call


@pytest.fixture
def auth(channel, product, stock):
    stock(product, 10)
    key = channel_api_key_create(channel=channel, name="shop")[1]
    return {"AUTHORIZATION": f"Bearer {key}"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def with_nul() -> bytes:
    body = order_body(customer={"email": "ann@example.com", "name": "Ann\u0000Lee"})
    return json.dumps(body).encode()  # the NUL as \u0000: valid JSON


@pytest.mark.parametrize(
    "body, status, says",
    [
        (b'{"lines": ' + nested(100_000) + b"}", 400, "nested too deeply"),
        (b'{"lines": ' + nested(MAX_JSON_DEPTH) + b"}", 400, "nested too deeply"),
        (with_nul(), 400, "NUL character (\\u0000) in $.customer.name"),
        (b'{"external_id": "\xff\xfe"}', 400, "not UTF-8"),
        (b'{"external_id": ', 400, "not valid JSON"),
        (b"[" + json.dumps(order_body()).encode() + b"]", 400, "must be a JSON object"),
        (b"NaN", 400, "NaN is not a JSON number"),
    ],
    ids=["nested-100k", "nested-65", "nul", "not-utf8", "invalid", "array", "nan"],
)
def test_a_bad_order_body_is_a_json_400_saying_why(auth, body, status, says):
    answer, headers, content = call("POST", "/api/v1/orders", body, **auth)

    assert answer == status, content[:500]
    assert headers["content-type"] == ["application/json"]
    assert says in json.loads(content)["detail"]
    assert not Order.objects.exists()


def test_a_body_over_the_limit_is_a_json_413_naming_it(auth):
    body = b'{"note": "' + b"x" * (6 * 1024 * 1024) + b'"}'

    status, headers, content = call("POST", "/api/v1/orders", body, **auth)

    assert status == 413
    assert headers["content-type"] == ["application/json"]
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert f"larger than {limit} bytes (5 MB)" in json.loads(content)["detail"]
    assert not InboundMessage.objects.exists()


def test_a_body_over_the_limit_is_a_413_on_the_full_stack_too(client, auth):
    body = b"[" + b"0," * (3 * 1024 * 1024) + b"0]"

    response = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": auth["AUTHORIZATION"]},
    )

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_a_content_length_that_is_no_number_is_a_json_400(auth):
    status, _, content = call("POST", "/api/v1/orders", b"{}", length="x", **auth)

    assert status == 400
    assert "Content-Length" in json.loads(content)["detail"]


def test_nul_in_the_address_is_a_json_400(client, auth):
    status, headers, content = call("GET", "/api/v1/orders/\x00", **auth)

    assert status == 400
    assert headers["content-type"] == ["application/json"]
    assert "NUL character (%00)" in json.loads(content)["detail"]

    response = client.get(
        "/api/v1/orders/%00", headers={"Authorization": auth["AUTHORIZATION"]}
    )
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]

    response = client.get(
        "/api/v1/stock?sku=%00", headers={"Authorization": auth["AUTHORIZATION"]}
    )
    assert response.status_code == 400


def test_an_unknown_api_address_is_a_json_404(db):
    status, headers, content = call("GET", "/api/v2/orders")

    assert status == 404
    assert headers["content-type"] == ["application/json"]
    assert "Nothing is at /api/v2/orders" in json.loads(content)["detail"]


def test_a_method_not_allowed_is_a_json_405_naming_the_allowed_one(db):
    status, headers, content = call("GET", "/api/channels/x/webhooks/shopify/")

    assert status == 405
    assert headers["allow"] == ["POST"]
    assert headers["x-frame-options"] == ["DENY"]  # the other headers kept
    detail = json.loads(content)["detail"]
    assert "GET is not allowed at /api/channels/x/webhooks/shopify/" in detail
    assert "use POST" in detail


def test_an_error_inside_a_view_is_a_json_500(auth, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "stock_by_sku", broken)

    status, headers, content = call("GET", "/api/v1/stock", query="sku=A", **auth)

    assert status == 500
    assert headers["content-type"] == ["application/json"]
    detail = json.loads(content)["detail"]
    assert "went wrong on our side" in detail and "a bug" not in detail


def test_pages_outside_the_api_keep_their_html_errors(db):
    status, headers, _ = call("GET", "/no-such-page/")

    assert status == 404
    assert headers["content-type"][0].startswith("text/html")
