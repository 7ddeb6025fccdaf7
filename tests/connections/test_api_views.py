"""The order API: keys, create/repeat/idempotency, errors by field path,
cancel, stock, rate limit."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from connections.models import ChannelApiKey, InboundMessage
from connections.services.api_keys import (
    channel_api_key_create,
    channel_api_key_revoke,
)
from orders.models import Order, OrderStatus
from tests import factories


def order_body(external_id="API-1", **changes):
    body = {
        "external_id": external_id,
        "currency": "USD",
        "shipping_method": "Ground",
        "shipping_amount": "4.95",
        "tax_amount": 1.5,
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "region": "TX",
            "postcode": "78701",
            "country": "US",
        },
        "lines": [{"sku": "TSH-BLK-M", "quantity": 2, "unit_price": "19.90"}],
    }
    body.update(changes)
    return body


@pytest.fixture
def api_key(channel):
    return channel_api_key_create(channel=channel, name="shop")[1]


@pytest.fixture
def api(client, api_key, product, stock):
    stock(product, 50)

    def call(method, path, body=None, key=api_key, **headers):
        return getattr(client, method)(
            f"/api/v1/{path}",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}", **headers},
        )

    return call


def test_create_returns_201_with_the_order_as_received(api, channel):
    response = api("post", "orders", order_body())

    assert response.status_code == 201
    body = response.json()
    assert body["external_id"] == "API-1" and body["status"] == "pending"
    assert body["status_text"] == "Received; stock not reserved yet."
    assert body["lines"] == [
        {
            "sku": "TSH-BLK-M",
            "name": "T-shirt black M",
            "quantity": 2,
            "unit_price": "19.90",
            "discount_amount": "0.00",
            "total": "39.80",
            "requires_shipping": True,
            "external_id": "",
            "allocated": 0,
            "shipped": 0,
            "returned": 0,
        }
    ]
    assert body["total"] == "46.25"
    message = InboundMessage.objects.get()
    assert (message.source, message.status, message.order.external_id) == (
        "api",
        "processed",
        "API-1",
    )


def test_created_order_is_allocated_once_committed(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = api("post", "orders", order_body())

    read = api("get", "orders/API-1").json()

    assert created.json()["status"] == "pending"
    assert read["status"] == "allocated"
    assert read["status_text"] == "Stock reserved; waiting to be picked."
    assert [line["allocated"] for line in read["lines"]] == [2]


def test_created_order_is_not_allocated_before_commit(
    api, product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api("post", "orders", order_body())

    order = Order.objects.get(external_id="API-1")
    assert callbacks and order.status == OrderStatus.PENDING
    assert not order.lines.get().allocations.exists()


def test_repeat_returns_200_with_the_same_order(api):
    first = api("post", "orders", order_body())
    second = api("post", "orders", order_body())

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    assert Order.objects.count() == 1


def test_idempotency_key_same_body_same_answer(api):
    first = api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})
    again = api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert InboundMessage.objects.count() == 1


def test_idempotency_key_other_body_refused_422(api):
    api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})
    other = api("post", "orders", order_body("API-2"), **{"Idempotency-Key": "k-1"})

    assert other.status_code == 422
    assert "another body" in other.json()["detail"]
    assert Order.objects.count() == 1


def test_errors_name_the_field_path(api):
    body = order_body(
        lines=[
            {"sku": "TSH-BLK-M", "quantity": 1, "unit_price": "5"},
            {"sku": "", "quantity": 0, "unit_price": "abc"},
        ],
        shipping_address={**order_body()["shipping_address"], "country": "Atlantis"},
    )

    response = api("post", "orders", body)

    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {
        "lines[1].sku",
        "lines[1].quantity",
        "lines[1].unit_price",
        "shipping_address.country",
    } <= fields
    assert not Order.objects.exists()
    assert InboundMessage.objects.get().status == "failed"


def test_errors_use_the_import_limits(api):
    body = order_body(
        shipping_address={**order_body()["shipping_address"], "city": "x" * 101}
    )

    response = api("post", "orders", body)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "shipping_address.city"
    assert "at most 100 fit" in error["message"]


def test_unknown_sku_named_by_path(api):
    body = order_body(lines=[{"sku": "NOPE", "quantity": 1, "unit_price": "1"}])

    response = api("post", "orders", body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines[0].sku"


def test_get_order_shows_status_lines_and_shipments(api, channel, shipped, product):
    order = shipped([(product, 1)])

    response = api("get", f"orders/{order.external_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "shipped"
    assert body["lines"][0]["shipped"] == 1
    [shipment] = body["shipments"]
    assert shipment["tracking_number"].startswith("TR-")
    assert {"carrier", "tracking_url", "estimated_delivery", "exception"} <= set(
        shipment
    )


def test_get_order_of_another_channel_404(api, product):
    other = factories.ChannelFactory(code="other", name="Other")
    factories.OrderFactory(channel=other, external_id="X-9")

    assert api("get", "orders/X-9").status_code == 404


def test_cancel_allowed_200(api):
    api("post", "orders", order_body())

    response = api("post", "orders/API-1/cancel", {"reason": "customer changed mind"})

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancel_after_shipping_409_with_reason(api, shipped, product):
    order = shipped([(product, 1)])

    response = api("post", f"orders/{order.external_id}/cancel")

    assert response.status_code == 409
    assert "cannot be cancelled" in response.json()["detail"]
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_stock_per_sku_and_location(api, location):
    response = api("get", "stock?sku=TSH-BLK-M,NOPE")

    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {
            "sku": "TSH-BLK-M",
            "available": 50,
            "locations": [{"location": "RNO", "name": location.name, "available": 50}],
        }
    ]
    assert body["unknown_skus"] == ["NOPE"]


def test_stock_without_sku_400(api):
    assert api("get", "stock").status_code == 400


def test_missing_key_401(client, db):
    response = client.get("/api/v1/stock?sku=A")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_key_401(api, api_key):
    assert api("get", "stock?sku=A", key=api_key[:-2] + "xx").status_code == 401


def test_revoked_key_401(api, api_key):
    channel_api_key_revoke(api_key=ChannelApiKey.objects.get())

    assert api("get", "stock?sku=A", key=api_key).status_code == 401


def test_key_is_stored_hashed(api_key):
    row = ChannelApiKey.objects.get()

    assert api_key not in (row.key_hash, row.prefix)
    assert api_key.startswith(f"oms_{row.prefix}_")


def test_channel_api_key_command_prints_a_working_key(channel, capsys, api):
    call_command("channel_api_key", channel.code, "--name", "ops")
    key = capsys.readouterr().out.strip()

    assert api("get", "stock?sku=TSH-BLK-M", key=key).status_code == 200


def test_rate_limit_per_key_429(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key": "3/minute"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        from rest_framework.settings import api_settings

        from connections.api.auth import ApiKeyRateThrottle

        api_settings.reload()
        ApiKeyRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        try:
            codes = [api("get", "stock?sku=TSH-BLK-M").status_code for _ in range(4)]
        finally:
            api_settings.reload()
    # Outside the override: the rate of the settings again, for later tests.
    api_settings.reload()
    ApiKeyRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert codes == [200, 200, 200, 429]


def test_openapi_schema_and_docs_served(client, db):
    schema = client.get("/api/v1/openapi.json")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/orders", "/api/v1/orders/{external_id}", "/api/v1/stock"} <= set(
        paths
    )
    assert client.get("/api/v1/docs/").status_code == 200
