"""The outbox back to the shops, against local servers that answer like
Shopify's GraphQL Admin API, WooCommerce's REST API and a generic channel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connections.models import OutboundAttempt, OutboundMessage
from connections.outbox.sending import outbox_due, outbox_send, outbox_send_due_run
from connections.selectors import outbound_failed
from fulfillment.models import Shipment
from fulfillment.services.tracking_changes import shipment_tracking_change
from tests import factories
from tests.support.shops import FakeShopify, FakeWooCommerce

pytestmark = pytest.mark.django_db

Status = OutboundMessage.Status
Kind = OutboundMessage.Kind


@pytest.fixture(autouse=True)
def _local_shops(settings):
    settings.OMS_SHOP_URL_SCHEME = "http"
    settings.OMS_OUTBOX_TIMEOUT = 2
    settings.OMS_STOCK_PUSH_COALESCE_SECONDS = 0


@pytest.fixture
def shopify(channel):
    with FakeShopify() as shop:
        channel.platform = "shopify"
        channel.shop_domain = shop.domain
        channel.access_token = FakeShopify.TOKEN
        channel.save()
        yield shop


@pytest.fixture
def woocommerce(channel):
    with FakeWooCommerce() as shop:
        channel.platform = "woocommerce"
        channel.shop_domain = shop.domain
        channel.access_token = FakeWooCommerce.KEY
        channel.save()
        yield shop


def later(minutes=90):
    return timezone.now() + timedelta(minutes=minutes)


# ---- Shopify


def test_shipping_a_shopify_order_creates_a_fulfillment_with_its_tracking(
    shopify, shipped, product, django_capture_on_commit_callbacks
):
    shopify.add_order("T-1", {"TSH-BLK-M": 2})

    with django_capture_on_commit_callbacks(execute=True):
        order = shipped([(product, 2)])

    shipment = Shipment.objects.get(order=order)
    [created] = shopify.operations("fulfillmentCreate")
    fulfillment = created["fulfillment"]
    assert fulfillment["trackingInfo"] == {
        "number": shipment.tracking_number,
        "company": "Parcel Express",
        "url": f"https://track.example/{shipment.tracking_number}",
    }
    [group] = fulfillment["lineItemsByFulfillmentOrder"]
    assert group["fulfillmentOrderLineItems"][0]["quantity"] == 2
    assert fulfillment["notifyCustomer"] is False  # the OMS mails the customer
    message = OutboundMessage.objects.exclude(platform="email").get()
    assert (message.kind, message.status, message.attempts) == (
        Kind.FULFILLMENT_CREATE,
        Status.SENT,
        1,
    )
    assert message.remote_id.startswith("gid://shopify/Fulfillment/")
    assert shopify.orders["T-1"]["fulfillmentOrders"][0]["status"] == "CLOSED"
    request = shopify.requests[0]
    assert request["path"] == "/admin/api/2025-01/graphql.json"
    assert request["headers"]["x-shopify-access-token"] == FakeShopify.TOKEN


def test_a_tracking_change_updates_the_shopify_fulfillment(
    shopify, shipped, product, user, django_capture_on_commit_callbacks
):
    shopify.add_order("T-1", {"TSH-BLK-M": 1})
    with django_capture_on_commit_callbacks(execute=True):
        order = shipped([(product, 1)])
    shipment = Shipment.objects.get(order=order)
    ups = factories.CarrierFactory(
        code="ups", name="UPS", tracking_url_template="https://ups.example/{tracking}"
    )

    with django_capture_on_commit_callbacks(execute=True):
        shipment_tracking_change(
            shipment=shipment, carrier=ups, tracking_number="1Z999", actor=user
        )

    [update] = shopify.operations("fulfillmentTrackingInfoUpdate")
    created = OutboundMessage.objects.get(kind=Kind.FULFILLMENT_CREATE)
    assert update["fulfillmentId"] == created.remote_id
    assert update["trackingInfoInput"] == {
        "number": "1Z999",
        "company": "UPS",
        "url": "https://ups.example/1Z999",
    }
    assert shopify.fulfillments[created.remote_id]["trackingInfo"][0]["number"] == (
        "1Z999"
    )
    assert order.events.filter(message__contains="tracking changed").exists()


def test_shopify_throttling_and_server_errors_are_retried_later_then_sent(
    shopify, shipped, product, django_capture_on_commit_callbacks
):
    shopify.add_order("T-1", {"TSH-BLK-M": 1})
    shopify.fail_with = [429, 503]

    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])

    message = OutboundMessage.objects.exclude(platform="email").get()
    assert message.status == Status.PENDING
    assert message.next_attempt_at > timezone.now()  # scheduled, not slept on
    assert "429" in message.last_error

    outbox_send_due_run(now=later())
    outbox_send_due_run(now=later(180))

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 3)
    codes = list(
        OutboundAttempt.objects.filter(message=message)
        .order_by("number")
        .values_list("response_code", "succeeded")
    )
    assert codes == [(429, False), (503, False), (200, True)]
    assert len(shopify.operations("fulfillmentCreate")) == 1


def test_a_graphql_throttle_is_retried(
    shopify, shipped, product, django_capture_on_commit_callbacks
):
    shopify.add_order("T-1", {"TSH-BLK-M": 1})
    shopify.throttle_next = 1

    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])
    message = OutboundMessage.objects.exclude(platform="email").get()
    assert message.status == Status.PENDING and "Throttled" in message.last_error

    outbox_send_due_run(now=later())

    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_shopify_user_error_fails_at_once_and_replay_sends_it(
    shopify, shipped, product, admin_client, django_capture_on_commit_callbacks
):
    # The order is not in Shopify (yet): the shop refuses, no retry is planned.
    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])
    message = OutboundMessage.objects.exclude(platform="email").get()
    assert message.status == Status.FAILED and message.next_attempt_at is None
    assert "Shopify has no order T-1" in message.last_error

    shopify.add_order("T-1", {"TSH-BLK-M": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/connections/outboundmessage/",
            {"action": "replay", "_selected_action": [message.pk]},
            follow=True,
        )

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert len(shopify.operations("fulfillmentCreate")) == 1


def test_a_shop_not_connected_parks_its_messages_until_connected_and_replayed(
    channel, shipped, product, user, admin_client, django_capture_on_commit_callbacks
):
    # A demo channel: its shop domain is a placeholder that never resolves.
    channel.platform = "shopify"
    channel.shop_domain = "oms-demo.myshopify.invalid"
    channel.access_token = FakeShopify.TOKEN
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        order = shipped([(product, 1)])
    ups = factories.CarrierFactory(code="ups", name="UPS")
    with django_capture_on_commit_callbacks(execute=True):
        shipment_tracking_change(
            shipment=Shipment.objects.get(order=order),
            carrier=ups,
            tracking_number="1Z999",
            actor=user,
        )

    messages = OutboundMessage.objects.exclude(platform="email").order_by("pk")
    assert [(m.kind, m.status, m.next_attempt_at) for m in messages] == [
        (Kind.FULFILLMENT_CREATE, Status.NOT_CONNECTED, None),
        (Kind.TRACKING_UPDATE, Status.NOT_CONNECTED, None),
    ]
    assert "not connected (a demo channel)" in messages[0].last_error
    assert not outbound_failed().exists()
    assert outbox_due(now=later()) == []

    with FakeShopify() as shop, django_capture_on_commit_callbacks(execute=True):
        shop.add_order("T-1", {"TSH-BLK-M": 1})
        channel.shop_domain = shop.domain
        channel.save()
        response = admin_client.post(
            "/admin/connections/outboundmessage/",
            {"action": "replay", "_selected_action": [m.pk for m in messages]},
            follow=True,
        )

    assert response.status_code == 200
    assert [m.status for m in messages.all()] == [Status.SENT, Status.SENT]


def test_a_fulfillment_whose_answer_was_lost_is_not_created_twice(
    shopify, shipped, product, django_capture_on_commit_callbacks
):
    shopify.add_order("T-1", {"TSH-BLK-M": 1})
    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])
    message = OutboundMessage.objects.exclude(platform="email").get()
    # As if the answer never came: the message is due again.
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=Status.PENDING, next_attempt_at=timezone.now()
    )

    outbox_send(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(shopify.operations("fulfillmentCreate")) == 1


def test_the_outbox_list_and_a_message_page_answer_in_few_queries(
    shopify, shipped, product, admin_client, django_assert_max_num_queries
):
    shipped([(product, 1)])
    message = OutboundMessage.objects.exclude(platform="email").get()
    with django_assert_max_num_queries(12):
        assert (
            admin_client.get("/admin/connections/outboundmessage/").status_code == 200
        )
    page = admin_client.get(f"/admin/connections/outboundmessage/{message.pk}/change/")
    assert page.status_code == 200


# ---- WooCommerce


@pytest.fixture
def shipped_as(channel, customer, user, carrier, stock):
    """Place an order with the shop's own order number and ship it whole."""
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create
    from fulfillment.services.shipping import shipment_ship
    from orders.addresses import Address
    from orders.services.orders import LineInput, order_create

    def make(external_id, items, *, ship=True):
        for product, quantity in items:
            stock(product, quantity)
        order = order_create(
            channel=channel,
            customer=customer,
            external_id=external_id,
            address=Address(
                name="Ada Lovelace", address1="1 Main St", city="Austin", country="US"
            ),
            lines=[
                LineInput(product=p, quantity=q, unit_price=Decimal("10.00"))
                for p, q in items
            ],
            actor=user,
        )
        pick_lists_create(order_ids=[order.pk], actor=user)
        for shipment in Shipment.objects.filter(order=order).order_by("pk"):
            shipment_pack(shipment=shipment, actor=user)
            if ship:
                shipment_ship(
                    shipment=shipment,
                    actor=user,
                    carrier=carrier,
                    tracking_number=f"TR-{shipment.pk}",
                )
        order.refresh_from_db()
        return order

    return make


def test_shipping_a_woocommerce_order_completes_it_with_a_tracking_note(
    woocommerce, shipped_as, product, django_capture_on_commit_callbacks
):
    woocommerce.add_order(1001)

    with django_capture_on_commit_callbacks(execute=True):
        order = shipped_as("1001", [(product, 2)])

    shipment = Shipment.objects.get(order=order)
    woo = woocommerce.orders[1001]
    assert woo["status"] == "completed"
    [note] = woo["notes"]
    assert note["customer_note"] is True
    assert "Parcel Express" in note["note"]
    assert f"tracking number {shipment.tracking_number}" in note["note"]
    message = OutboundMessage.objects.exclude(platform="email").get()
    assert (message.kind, message.status) == (Kind.ORDER_COMPLETED, Status.SENT)
    methods = [(r["method"], r["path"]) for r in woocommerce.requests]
    assert methods == [
        ("GET", "/wp-json/wc/v3/orders/1001/notes"),
        ("POST", "/wp-json/wc/v3/orders/1001/notes"),
        ("PUT", "/wp-json/wc/v3/orders/1001"),
    ]


def test_a_woocommerce_retry_never_writes_the_note_twice(
    woocommerce, shipped_as, product, django_capture_on_commit_callbacks
):
    woocommerce.add_order(1001)
    # The note is written, then completing the order meets a server error.
    woocommerce.fail_with = []
    original = woocommerce.handle
    calls = {"put": 0}

    def flaky(method, path, headers, body):
        if method == "PUT" and calls["put"] == 0:
            calls["put"] += 1
            return 502, {"code": "bad_gateway", "message": "Bad gateway"}
        return original(method, path, headers, body)

    woocommerce.handle = flaky
    with django_capture_on_commit_callbacks(execute=True):
        shipped_as("1001", [(product, 1)])
    message = OutboundMessage.objects.exclude(platform="email").get()
    assert message.status == Status.PENDING and "502" in message.last_error

    outbox_send_due_run(now=later())

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(woocommerce.orders[1001]["notes"]) == 1
    assert woocommerce.orders[1001]["status"] == "completed"


def test_a_refused_woocommerce_key_fails_with_a_clear_message(
    woocommerce, channel, shipped_as, product, django_capture_on_commit_callbacks
):
    woocommerce.add_order(1001)
    channel.access_token = "ck_wrong:cs_wrong"
    channel.save()

    with django_capture_on_commit_callbacks(execute=True):
        shipped_as("1001", [(product, 1)])

    message = OutboundMessage.objects.exclude(platform="email").get()
    assert message.status == Status.FAILED
    assert "refused the API key" in message.last_error
