"""Shop webhooks through the inbox: Shopify's and WooCommerce's own payload
shapes, signed the way they sign them."""

import base64
import hashlib
import hmac
import json

import pytest
from django.core.management import call_command

from connections.inbox.replay import inbound_replay
from connections.models import InboundMessage
from orders.models import Channel, Order, OrderEvent, OrderStatus
from tests import factories

SECRET = "shpss_0123456789abcdef"


def shopify_order(name="#1001", **changes):
    """An order resource as Shopify's orders/create webhook sends it."""
    order = {
        "id": 820982911946154508,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": name,
        "order_number": 1001,
        "email": "jon@example.com",
        "created_at": "2026-11-20T14:30:00-05:00",
        "processed_at": "2026-11-20T14:30:00-05:00",
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "total_price": "45.95",
        "subtotal_price": "30.00",
        "total_tax": "5.95",
        "customer": {
            "id": 115310627314723954,
            "email": "jon@example.com",
            "first_name": "Jon",
            "last_name": "Snow",
            "phone": "+15125550100",
        },
        "shipping_address": {
            "first_name": "Jon",
            "last_name": "Snow",
            "name": "Jon Snow",
            "company": None,
            "address1": "123 Congress Ave",
            "address2": "",
            "city": "Austin",
            "province": "Texas",
            "province_code": "TX",
            "zip": "78701",
            "country": "United States",
            "country_code": "US",
            "phone": "+15125550100",
        },
        "shipping_lines": [
            {"id": 1, "title": "Standard", "code": "STANDARD", "price": "10.00"}
        ],
        "line_items": [
            {
                "id": 866550311766439020,
                "sku": "TSH-BLK-M",
                "title": "T-shirt",
                "name": "T-shirt - black / M",
                "quantity": 3,
                "price": "10.00",
                "requires_shipping": True,
            }
        ],
    }
    order.update(changes)
    return order


def woo_order(number=727, status="processing", **changes):
    """An order as WooCommerce's order.created webhook sends it (REST v3)."""
    order = {
        "id": number,
        "number": str(number),
        "status": status,
        "currency": "EUR",
        "date_created": "2026-11-20T15:30:00",
        "date_created_gmt": "2026-11-20T14:30:00",
        "shipping_total": "4.95",
        "total_tax": "3.80",
        "total": "28.75",
        "billing": {
            "first_name": "Anna",
            "last_name": "Schmidt",
            "company": "",
            "address_1": "Invalidenstraße 1",
            "address_2": "",
            "city": "Berlin",
            "state": "",
            "postcode": "10115",
            "country": "DE",
            "email": "anna@example.de",
            "phone": "+49301234567",
        },
        "shipping": {
            "first_name": "Anna",
            "last_name": "Schmidt",
            "company": "",
            "address_1": "Invalidenstraße 1",
            "address_2": "",
            "city": "Berlin",
            "state": "",
            "postcode": "10115",
            "country": "DE",
            "phone": "",
        },
        "line_items": [
            {
                "id": 315,
                "name": "T-shirt black M",
                "product_id": 93,
                "variation_id": 0,
                "quantity": 2,
                "sku": "TSH-BLK-M",
                "price": 10,
                "subtotal": "20.00",
                "total": "20.00",
            }
        ],
        "shipping_lines": [
            {
                "id": 1,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": "4.95",
            }
        ],
    }
    order.update(changes)
    return order


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    ).decode()


@pytest.fixture
def shop(db, product, stock):
    stock(product, 100)
    return factories.ChannelFactory(
        code="shopify-us",
        name="Shopify US",
        platform=Channel.Platform.SHOPIFY,
        inbound_secret=SECRET,
    )


@pytest.fixture
def woo(db, product, stock):
    stock(product, 100)
    return factories.ChannelFactory(
        code="woo-de",
        name="Woo DE",
        platform=Channel.Platform.WOOCOMMERCE,
        inbound_secret=SECRET,
    )


def post_shopify(
    client,
    resource,
    *,
    topic="orders/create",
    delivery="d-1",
    code="shopify-us",
    signature=None,
):
    body = json.dumps(resource).encode()
    return client.post(
        f"/api/channels/{code}/webhooks/shopify/",
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature or sign(body),
            "X-Shopify-Webhook-Id": delivery,
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
        },
    )


def post_woo(client, resource, *, topic="order.created", delivery="w-1", code="woo-de"):
    body = json.dumps(resource).encode()
    return client.post(
        f"/api/channels/{code}/webhooks/woocommerce/",
        body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(body),
            "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-Source": "https://shop.example.de/",
        },
    )


def test_shopify_order_create_makes_the_order(client, shop):
    response = post_shopify(client, shopify_order())

    assert response.status_code == 200
    order = Order.objects.get(channel=shop, external_id="#1001")
    assert order.status == OrderStatus.ALLOCATED
    assert (order.ship_country, order.ship_region, order.ship_postcode) == (
        "US",
        "TX",
        "78701",
    )
    assert order.shipping_method == "Standard"
    assert str(order.shipping_amount) == "10.00" and str(order.tax_amount) == "5.95"
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [
        ("TSH-BLK-M", 3)
    ]
    message = InboundMessage.objects.get()
    assert (message.status, message.order_id, message.delivery_id) == (
        "processed",
        order.pk,
        "d-1",
    )


def test_shopify_timeline_links_to_the_message(admin_client, shop):
    post_shopify(client=admin_client, resource=shopify_order())
    order = Order.objects.get()
    message = InboundMessage.objects.get()

    placed = order.events.get(kind=OrderEvent.Kind.PLACED)
    assert placed.data["inbound_message"] == message.pk
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert (
        f"/admin/connections/inboundmessage/{message.pk}/change/"
        in page.content.decode()
    )


def test_shopify_bad_signature_refused_401(client, shop):
    response = post_shopify(client, shopify_order(), signature=sign(b"other"))

    assert response.status_code == 401
    assert not InboundMessage.objects.exists()


def test_shopify_signed_with_another_secret_refused_401(client, shop):
    body = json.dumps(shopify_order()).encode()
    response = post_shopify(client, shopify_order(), signature=sign(body, "wrong"))

    assert response.status_code == 401


def test_webhook_for_unknown_channel_404(client, shop):
    response = post_shopify(client, shopify_order(), code="nope")

    assert response.status_code == 404


def test_duplicate_delivery_makes_one_order(client, shop):
    first = post_shopify(client, shopify_order(), delivery="same")
    second = post_shopify(client, shopify_order(), delivery="same")

    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert Order.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_same_order_by_two_deliveries_makes_one_order(client, shop):
    post_shopify(client, shopify_order(), delivery="a")
    post_shopify(client, shopify_order(), delivery="b")

    assert Order.objects.count() == 1
    assert InboundMessage.objects.get(delivery_id="b").status == "duplicate"


def test_shopify_update_changes_address_before_packing(client, shop):
    post_shopify(client, shopify_order())
    moved = shopify_order()
    moved["shipping_address"] = {
        **moved["shipping_address"],
        "address1": "500 Lamar Blvd",
    }

    post_shopify(client, moved, topic="orders/updated", delivery="u-1")

    order = Order.objects.get()
    assert order.ship_address1 == "500 Lamar Blvd"
    assert order.events.filter(kind=OrderEvent.Kind.UPDATED).exists()


def test_shopify_update_after_packing_refused_and_on_timeline(client, shop, user):
    post_shopify(client, shopify_order())
    order = Order.objects.get()
    from fulfillment.models import Shipment
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create

    pick_lists_create(order_ids=[order.pk], actor=user)
    for shipment in Shipment.objects.filter(order=order):
        shipment_pack(shipment=shipment, actor=user)
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED
    moved = shopify_order()
    moved["shipping_address"] = {
        **moved["shipping_address"],
        "address1": "500 Lamar Blvd",
    }

    post_shopify(client, moved, topic="orders/updated", delivery="u-1")

    order.refresh_from_db()
    assert order.ship_address1 == "123 Congress Ave"
    refused = order.events.get(kind=OrderEvent.Kind.CHANNEL)
    assert "not applied" in refused.message and "Packed" in refused.message
    message = InboundMessage.objects.get(delivery_id="u-1")
    assert refused.data["inbound_message"] == message.pk
    assert "not applied" in message.error


def test_shopify_cancel_cancels_the_order(client, shop):
    post_shopify(client, shopify_order())

    post_shopify(
        client,
        shopify_order(cancelled_at="2026-11-21T10:00:00-05:00"),
        topic="orders/cancelled",
        delivery="c-1",
    )

    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_shopify_unknown_sku_fails_visibly_and_replays(client, shop, admin_client):
    post_shopify(
        client,
        shopify_order(line_items=[{"sku": "NEW-SKU", "quantity": 1, "price": "5.00"}]),
    )
    message = InboundMessage.objects.get()
    assert message.status == "failed"
    assert "lines[0].sku" in message.error and "unknown SKU" in message.error
    factories.ProductFactory(sku="NEW-SKU")

    inbound_replay(message=message, actor=None)

    message.refresh_from_db()
    assert message.status == "processed" and message.order is not None


def test_admin_replay_action_needs_the_permission(admin_client, shop):
    post_shopify(
        admin_client,
        shopify_order(line_items=[{"sku": "NEW-SKU", "quantity": 1, "price": "5.00"}]),
    )
    message = InboundMessage.objects.get()
    factories.ProductFactory(sku="NEW-SKU")

    page = admin_client.get("/admin/connections/inboundmessage/?status=failed")
    assert page.status_code == 200 and "unknown SKU" in page.content.decode()
    admin_client.post(
        "/admin/connections/inboundmessage/",
        {"action": "replay", "_selected_action": [message.pk]},
    )

    message.refresh_from_db()
    assert message.status == "processed"


def test_woocommerce_order_created_makes_the_order(client, woo):
    response = post_woo(client, woo_order())

    assert response.status_code == 200
    order = Order.objects.get(channel=woo, external_id="727")
    assert (order.ship_country, order.ship_postcode, order.currency) == (
        "DE",
        "10115",
        "EUR",
    )
    assert order.ship_name == "Anna Schmidt"
    assert order.customer.email == "anna@example.de"
    assert str(order.total) == "28.75"


def test_woocommerce_unpaid_order_waits_until_processing(client, woo):
    post_woo(client, woo_order(status="pending"), delivery="w-1")
    assert not Order.objects.exists()

    post_woo(
        client, woo_order(status="processing"), topic="order.updated", delivery="w-2"
    )

    assert Order.objects.count() == 1


def test_woocommerce_deleted_cancels(client, woo):
    post_woo(client, woo_order())

    post_woo(client, {"id": 727}, topic="order.deleted", delivery="w-2")

    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_woocommerce_ping_answered_200(client, woo):
    response = client.post(
        "/api/channels/woo-de/webhooks/woocommerce/",
        "webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert not InboundMessage.objects.exists()


def test_woocommerce_bad_signature_refused_401(client, woo):
    response = client.post(
        "/api/channels/woo-de/webhooks/woocommerce/",
        json.dumps(woo_order()),
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": "bad",
        },
    )

    assert response.status_code == 401


def test_channel_connect_sets_the_channel_up(db, capsys):
    call_command(
        "channel_connect",
        "shop-b",
        "--platform",
        "shopify",
        "--shop-domain",
        "https://acme.myshopify.com/",
        "--access-token",
        "shpat_abc",
        "--webhook-secret",
        "s3cret",
    )

    channel = Channel.objects.get(code="shop-b")
    assert (channel.platform, channel.shop_domain) == ("shopify", "acme.myshopify.com")
    assert (channel.access_token, channel.inbound_secret) == ("shpat_abc", "s3cret")
    assert "/api/channels/shop-b/webhooks/shopify/" in capsys.readouterr().out


def test_channel_admin_never_shows_the_connection_secrets(admin_client, shop):
    page = admin_client.get(f"/admin/orders/channel/{shop.pk}/change/")

    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert "New shop webhook secret" in page.content.decode()
