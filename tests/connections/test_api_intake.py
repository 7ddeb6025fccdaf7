"""The order API with the worker's queue, as in production: an order is
answered as taken in and written later by the worker, in a batch, through
the same validator, intake rules and services as every other source."""

import pytest

from connections.inbox import applying, draining
from connections.models import InboundMessage
from connections.services.api_keys import channel_api_key_create
from orders.models import HoldReason, Order, OrderStatus
from tests.connections.test_api_intake_speed import (  # noqa: F401 - fixture
    database_queue as database_queue,
)
from tests.connections.test_api_intake_speed import statement
from tests.connections.test_api_views import order_body
from tests.orders.rules.test_sources import EXPECTED, outcome
from tests.orders.rules.test_sources import rules as rules  # noqa: F401 - fixture


@pytest.fixture
def api(client, channel, product, stock, database_queue):
    stock(product, 50)
    key = channel_api_key_create(channel=channel, name="shop")[1]

    def call(method, path, body=None, **headers):
        return getattr(client, method)(
            f"/api/v1/{path}",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}", **headers},
        )

    return call


def test_idempotency_key_while_the_order_waits_gives_the_same_answer(api):
    first = api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})
    again = api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})
    other = api("post", "orders", order_body("API-2"), **{"Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422 and "another body" in other.json()["detail"]
    assert InboundMessage.objects.count() == 1
    draining.inbound_drain()
    again = api("post", "orders", order_body(), **{"Idempotency-Key": "k-1"})
    assert (again.status_code, again.json()) == (201, first.json())
    assert Order.objects.get().number == first.json()["number"]


def test_errors_are_answered_at_once_and_nothing_waits(api):
    body = order_body(lines=[{"sku": "NOPE", "quantity": 0, "unit_price": "x"}])

    response = api("post", "orders", body)

    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"lines[0].quantity", "lines[0].unit_price"} <= fields
    message = InboundMessage.objects.get()
    assert (message.status, message.response_status) == ("failed", 422)
    assert "lines[0].quantity" in message.error
    assert draining.inbound_drain() == 0
    assert not Order.objects.exists()


def test_get_of_an_unknown_order_404(api):
    assert api("get", "orders/NOPE").status_code == 404
    assert api("post", "orders/NOPE/cancel").status_code == 404


def test_address_problem_is_answered_on_hold_as_the_worker_writes_it(api):
    address = {**order_body()["shipping_address"], "postcode": "ABC"}

    taken = api("post", "orders", order_body(shipping_address=address)).json()
    draining.inbound_drain()
    written = api("get", "orders/API-1").json()

    assert taken["status"] == written["status"] == OrderStatus.ON_HOLD
    assert taken["hold_reason"] == written["hold_reason"] == HoldReason.ADDRESS_CHECK
    assert taken["status_text"] == written["status_text"]
    assert written["number"] == taken["number"]


def test_intake_rules_apply_when_the_worker_writes_the_order(
    client,
    channel,
    rules,  # noqa: F811 - the fixture
    database_queue,
):
    key = channel_api_key_create(channel=channel, name="shop")[1]
    body = {
        **order_body(),
        "shipping_method": "Standard",
        "shipping_amount": "10.00",
        "tax_amount": "5.95",
        "customer": {"email": "api@example.com", "name": "Ann Lee"},
        "lines": [{"sku": "TSH-BLK-M", "quantity": 3, "unit_price": "10.00"}],
    }
    response = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.content

    assert draining.inbound_drain() == 1

    # As for the admin form, a CSV import and a webhook (test_sources).
    assert outcome(Order.objects.get(external_id="API-1"), rules) == EXPECTED


@pytest.mark.django_db(transaction=True)
def test_create_skips_the_health_check_round_trip(
    client, channel, product, stock, database_queue, settings, monkeypatch
):
    """A kept connection is checked by the request's first statement (a
    read of the order and its message), not by a `SELECT 1` before it."""
    from django.db import connections

    stock(product, 50)
    key = channel_api_key_create(channel=channel, name="shop")[1]

    def post(external_id):
        return client.post(
            "/api/v1/orders",
            order_body(external_id),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    post("H-1")  # connects
    checks = []
    wrapper = connections["default"]
    monkeypatch.setattr(
        type(wrapper), "is_usable", lambda self: checks.append(1) or True
    )
    wrapper.health_check_done = False  # as at the start of every request

    response = post("H-2")

    assert response.status_code == 201 and checks == []
    assert InboundMessage.objects.filter(status="received").count() == 2


def test_drain_reads_the_api_orders_without_a_savepoint_each(api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(4):
        assert api("post", "orders", order_body(f"S-{n}")).status_code == 201

    with CaptureQueriesContext(connection) as ctx:
        assert draining.inbound_drain() == 4

    savepoints = [
        q for q in ctx.captured_queries if statement(q["sql"]).startswith("SAVEPOINT")
    ]
    # The batch's own (writing its orders), not one per message.
    assert len(savepoints) <= 2, [q["sql"] for q in ctx.captured_queries]
    assert Order.objects.filter(status=OrderStatus.ALLOCATED).count() == 4


def test_an_order_the_worker_cannot_write_fails_alone(api):
    for n in range(3):
        api("post", "orders", order_body(f"F-{n}"))
    # Its product went away after the answer (as if deleted meanwhile).
    broken = InboundMessage.objects.get(external_id="F-1")
    broken.body = broken.body.replace("TSH-BLK-M", "GONE-SKU")
    broken.save(update_fields=["body"])

    assert draining.inbound_drain() == 3

    assert set(Order.objects.values_list("external_id", flat=True)) == {"F-0", "F-2"}
    broken.refresh_from_db()
    assert broken.status == "failed" and "GONE-SKU" in broken.error
    # Shown to the shop as it is: the order was not written.
    again = api("post", "orders", order_body("F-1"))
    assert again.status_code == 422 and "GONE-SKU" in again.json()["detail"]


def test_database_error_while_draining_leaves_the_batch_waiting(api, monkeypatch):
    from django.db import DatabaseError

    for n in range(2):
        api("post", "orders", order_body(f"E-{n}"))

    def broken(skus, batch=None):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(applying, "products_of", broken)
    with pytest.raises(DatabaseError):
        draining.inbound_drain()
    monkeypatch.undo()

    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"received"}
    assert draining.inbound_drain() == 2
    assert Order.objects.count() == 2
