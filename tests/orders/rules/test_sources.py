"""The intake rules run the same, before allocation, for every way an order
comes in: the admin form, a CSV import, the API and a Shopify webhook."""

import pytest

from connections.services.api_keys import channel_api_key_create
from inventory.models import Allocation
from orders.importing.confirm import import_confirm
from orders.models import Customer, HoldReason, Order, OrderEvent, OrderStatus
from tests import factories
from tests.connections.test_inbox_webhooks import post_shopify, shopify_order
from tests.orders.rules.support import rule
from tests.support.admin_forms import order_add_form
from tests.test_admin import admin_url

pytestmark = pytest.mark.django_db

CSV = (
    "order_ref,placed_at,customer_email,customer_name,ship_name,ship_address1,"
    "ship_city,ship_region,ship_postcode,ship_country,shipping_method,currency,sku,"
    "quantity,unit_price,shipping_amount,tax_amount\n"
    "CSV-1,2026-11-20 10:00,csv@example.com,Cy Esv,Cy Esv,1 Main St,Austin,TX,78701,"
    "US,Standard,USD,TSH-BLK-M,3,10.00,10.00,5.95\n"
)


@pytest.fixture
def rules(db, product, stock, location):
    stock(product, 100)
    nyc = factories.LocationFactory(code="NYC", priority=50)
    rule(
        "Big US",
        [("ship_country", "is", "US"), ("total", "gte", "40")],
        [("add_tag", "big"), ("pin_location", "", nyc), ("priority", "high")],
        position=1,
    )
    rule(
        "Review example.com",
        [("email_domain", "is", "example.com"), ("item_count", "gte", "3")],
        [("hold", "fraud_review", "Check the payment.")],
        position=2,
    )
    rule("Never", [("ship_country", "is", "DE")], [("add_tag", "de")], position=3)
    return nyc


def outcome(order: Order, nyc) -> dict:
    order.refresh_from_db()
    return {
        "status": order.status,
        "hold_reason": order.hold_reason,
        "priority": order.priority,
        "pinned": order.routing_pin_id == nyc.pk,
        "tags": sorted(order.tags.values_list("name", flat=True)),
        "reserved": Allocation.objects.filter(order_line__order=order).exists(),
        "timeline": list(
            OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE)
            .order_by("pk")
            .values_list("message", flat=True)
        ),
    }


EXPECTED = {
    "status": OrderStatus.ON_HOLD,
    "hold_reason": HoldReason.FRAUD_REVIEW,
    "priority": Order.Priority.HIGH,
    "pinned": True,
    "tags": ["big"],
    "reserved": False,
    "timeline": [
        "Tagged 'big', routed to ship from NYC and priority set to High by rule "
        "'Big US'.",
        "Held (Fraud review: Check the payment.) by rule 'Review example.com'.",
    ],
}


def test_admin_form(admin_client, rules, channel, product):
    customer = Customer.objects.create(email="adm@example.com")
    response = admin_client.post(
        admin_url(Order, "add"),
        order_add_form(channel=channel, customer=customer, product=product),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert outcome(Order.objects.get(external_id="PHONE-1"), rules) == EXPECTED


def test_csv_import(rules, channel, user):
    confirmed = import_confirm(
        data=CSV.encode(),
        actor=user,
        channel=channel,
        format_code="auto",
        filename="orders.csv",
        partial=False,
    )
    assert confirmed.result.written, confirmed.result.problems
    assert outcome(Order.objects.get(external_id="CSV-1"), rules) == EXPECTED


def test_api(client, rules, channel):
    key = channel_api_key_create(channel=channel, name="shop")[1]
    body = {
        "external_id": "API-1",
        "currency": "USD",
        "shipping_method": "Standard",
        "shipping_amount": "10.00",
        "tax_amount": "5.95",
        "customer": {"email": "api@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "region": "TX",
            "postcode": "78701",
            "country": "US",
        },
        "lines": [{"sku": "TSH-BLK-M", "quantity": 3, "unit_price": "10.00"}],
    }
    response = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.content
    assert outcome(Order.objects.get(external_id="API-1"), rules) == EXPECTED


def test_shopify_webhook(client, rules):
    from tests.connections.test_inbox_webhooks import SECRET

    factories.ChannelFactory(
        code="shopify-us",
        name="Shopify US",
        platform="shopify",
        inbound_secret=SECRET,
    )
    response = post_shopify(client, shopify_order())
    assert response.status_code == 200
    assert outcome(Order.objects.get(external_id="#1001"), rules) == EXPECTED


def test_webhook_address_check_hold_is_seen_by_the_rules(client, rules):
    """A webhook order whose address fails its country's check is taken on hold
    before the rules run, so "address check failed" matches it."""
    from tests.connections.test_inbox_webhooks import SECRET

    factories.ChannelFactory(
        code="shopify-us", name="Shopify US", platform="shopify", inbound_secret=SECRET
    )
    rule(
        "Bad address",
        [("address_failed", "yes", "")],
        [("add_tag", "fix-address")],
        position=0,
        stop_here=True,
    )
    resource = shopify_order()
    resource["shipping_address"] = {**resource["shipping_address"], "zip": "ABCDE"}

    post_shopify(client, resource)

    order = Order.objects.get(external_id="#1001")
    assert (order.status, order.hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.ADDRESS_CHECK,
    )
    assert list(order.tags.values_list("name", flat=True)) == ["fix-address"]
