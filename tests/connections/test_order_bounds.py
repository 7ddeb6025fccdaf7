"""What is accepted can be written (issue 28): the API refuses an order
whose dates the writer cannot take, naming the field; a shop's webhook with
one fails visibly with the reason; an order taken in that fails later is
answered `failed` with the reason, never 404."""

import pytest
from django.urls import reverse

from connections.inbox import draining
from connections.models import InboundMessage
from orders.models import Order
from tests.connections.test_api_intake import api as api  # noqa: F401 - fixture
from tests.connections.test_api_intake_speed import (  # noqa: F401 - fixture
    database_queue as database_queue,
)
from tests.connections.test_api_views import order_body
from tests.connections.test_inbox_webhooks import (  # noqa: F401 - fixture
    post_shopify,
    shop,
    shopify_order,
)


@pytest.mark.parametrize(
    "placed_at",
    ["9999-12-31T23:00:00Z", "9999-12-31", "0001-01-01T00:00:00Z", "2999-06-01"],
)
def test_api_refuses_a_placed_at_the_worker_cannot_write_naming_the_field(
    api,  # noqa: F811
    placed_at,
):
    response = api("post", "orders", order_body(placed_at=placed_at))

    assert response.status_code == 422
    errors = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert set(errors) == {"placed_at"}
    assert "Check the year" in errors["placed_at"]
    assert draining.inbound_drain() == 0
    assert not Order.objects.exists()
    # Refused at once: not counted as an order message that failed later.
    assert api("get", "orders/API-1").status_code == 404


def test_api_takes_an_order_placed_a_few_months_either_way_and_writes_it(
    api,  # noqa: F811
):
    from datetime import timedelta

    from django.utils import timezone

    for n, days in enumerate((-300, 300)):
        when = (timezone.now() + timedelta(days=days)).isoformat()
        response = api("post", "orders", order_body(f"B-{n}", placed_at=when))
        assert response.status_code == 201, response.content

    assert draining.inbound_drain() == 2
    assert Order.objects.count() == 2


def test_get_of_an_order_that_failed_after_it_was_taken_in_says_failed(
    api,  # noqa: F811
):
    taken = api("post", "orders", order_body("F-1"))
    assert taken.status_code == 201
    # Its product went away after the answer (as if deleted meanwhile).
    message = InboundMessage.objects.get(external_id="F-1")
    message.body = message.body.replace("TSH-BLK-M", "GONE-SKU")
    message.save(update_fields=["body"])
    draining.inbound_drain()

    response = api("get", "orders/F-1")

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "failed"
    assert answer["number"] == taken.json()["number"]
    assert "GONE-SKU" in answer["error"] and "GONE-SKU" in answer["status_text"]
    assert answer["failed_at"]


def test_shopify_order_with_an_impossible_date_fails_visibly_with_the_reason(
    client,
    admin_client,
    shop,  # noqa: F811
):
    from connections.services.api_keys import channel_api_key_create

    resource = shopify_order(
        created_at="9999-12-31T23:59:59-05:00", processed_at="9999-12-31T23:59:59-05:00"
    )

    assert post_shopify(client, resource).status_code == 200

    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert "placed_at" in message.error and "Check the year" in message.error
    assert not Order.objects.exists()
    # On the inbox page, under "failed after it was taken in".
    inbox = reverse("admin:connections_inboundmessage_changelist")
    listed = admin_client.get(inbox + "?status=failed_taken")
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [message]
    assert "Check the year" in listed.content.decode()
    # And to the shop's API key, as failed with the reason.
    key = channel_api_key_create(channel=shop, name="shop")[1]
    answer = client.get(
        "/api/v1/orders/%231001", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed"
    assert "placed_at" in answer.json()["error"]


def test_dashboard_counts_order_messages_that_failed_after_intake(
    api,  # noqa: F811
    admin_client,
):
    from tests.test_dashboard import attention

    api("post", "orders", order_body("F-1"))
    api("post", "orders", order_body("F-2"))
    InboundMessage.objects.filter(external_id="F-1").update(
        body=InboundMessage.objects.get(external_id="F-1").body.replace(
            "TSH-BLK-M", "GONE-SKU"
        )
    )
    draining.inbound_drain()
    # Refused at once (422): its sender was told; nothing to act on.
    api("post", "orders", order_body("R-1", placed_at="9999-12-31"))

    rows = attention(admin_client.get(reverse("admin:index")).content.decode())

    count, link = rows["Order messages that failed (taken in, not written)"]
    assert count == "1"
    listed = admin_client.get(link)
    assert [m.external_id for m in listed.context["cl"].result_list] == ["F-1"]
