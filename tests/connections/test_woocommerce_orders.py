"""WooCommerce orders through the real path: a signed `order.*` webhook, the
inbox, the order. The published bodies under `tests/fixtures/real/woocommerce/`
run against the hand-written table beside them (`expected.json`); the cases
no published body shows (a coupon leaving a price of 2.6666666666666665, tax
on shipping in tax-inclusive prices, fees, late updates) run on bodies
written here in WooCommerce's shape."""

import base64
import copy
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path

import pytest

from connections.models import InboundMessage
from connections.woocommerce.inbound import woocommerce_order_body
from orders.models import Channel, Order
from tests import factories

SECRET = "wc-webhook-secret-0123456789"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "woocommerce"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
FILES = sorted(EXPECTED["files"])


def sign(body: bytes) -> str:
    return base64.b64encode(
        hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    ).decode()


def post(client, body: bytes, *, topic: str, delivery: str):
    """Post a body as WooCommerce delivers a webhook, signed."""
    return client.post(
        "/api/channels/woo-us/webhooks/woocommerce/",
        body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(body),
            "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-Source": "https://shop.example.com/",
        },
    )


def post_resource(client, resource: dict, *, topic="order.created", delivery="d-1"):
    return post(client, json.dumps(resource).encode(), topic=topic, delivery=delivery)


@pytest.fixture
def woo(db, location, stock):
    for sku in [*EXPECTED["stock"], "TSH-BLK-M", "MUG-WHT"]:
        stock(factories.ProductFactory(sku=sku), 500)
    return factories.ChannelFactory(
        code="woo-us",
        name="Woo US",
        platform=Channel.Platform.WOOCOMMERCE,
        inbound_secret=SECRET,
    )


def money(value) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize("name", FILES)
def test_published_body_maps_to_the_order_api(name):
    expected = EXPECTED["files"][name]["body"]

    body = woocommerce_order_body(json.loads((CORPUS / name).read_text()))

    for field in ("external_id", "prices_include_tax", "discount_codes"):
        assert body[field] == expected[field], field
    for field in ("financial_status", "note", "shipping_method"):
        assert body[field] == expected[field], field
    for field in ("discount_amount", "shipping_amount", "tax_amount", "total"):
        assert money(body[field]) == money(expected[field]), field
    lines = [
        [
            line["sku"],
            line["name"],
            line["quantity"],
            money(line["unit_price"]),
            money(line["discount_amount"]),
            money(line["total"]),
            line["requires_shipping"],
            line["external_id"],
        ]
        for line in body["lines"]
    ]
    assert lines == [
        [sku, name_, quantity, money(unit), money(discount), money(total), ships, ref]
        for sku, name_, quantity, unit, discount, total, ships, ref in expected["lines"]
    ]


@pytest.mark.parametrize("name", FILES)
def test_published_body_through_the_signed_webhook(client, woo, name):
    case = EXPECTED["files"][name]

    response = post(
        client, (CORPUS / name).read_bytes(), topic=case["topic"], delivery=name
    )

    assert response.status_code == 200
    message = InboundMessage.objects.get(delivery_id=name)
    assert message.status == case["outcome"]["status"], message.error
    for words in case["outcome"]["error_contains"]:
        assert words in message.error
    wanted = case["order"]
    if wanted is None:
        assert not Order.objects.exists()
        return
    order = Order.objects.get(channel=woo, external_id=case["body"]["external_id"])
    assert message.order_id == order.pk
    assert order.status == wanted["status"]
    assert order.hold_reason == wanted["hold_reason"]
    for field in (
        "subtotal",
        "discount_amount",
        "shipping_amount",
        "shipping_discount",
        "tax_amount",
        "total",
        "stated_total",
    ):
        assert getattr(order, field) == money(wanted[field]), field
    for field in (
        "prices_include_tax",
        "financial_status",
        "note",
        "discount_codes",
        "shipping_method",
        "currency",
        "ship_name",
        "ship_country",
        "ship_postcode",
    ):
        assert getattr(order, field) == wanted[field], field
    assert order.customer.email == wanted["email"]
    lines = [
        [
            line.sku,
            line.quantity,
            line.unit_price,
            line.discount_amount,
            line.total,
            line.requires_shipping,
            line.external_id,
        ]
        for line in order.lines.order_by("pk")
    ]
    assert lines == [
        [sku, quantity, money(unit), money(discount), money(total), ships, ref]
        for sku, quantity, unit, discount, total, ships, ref in wanted["lines"]
    ]


def woo_order(*, packed: list[str] | None = None, **changes) -> dict:
    """A paid checkout order as WooCommerce's webhook sends it (REST v3): one
    T-shirt, flat rate, tax on top. The checkout names what it packed in the
    shipping line's `Items` meta: every line, or those named in `packed`."""
    order = {
        "id": 5120,
        "parent_id": 0,
        "number": "5120",
        "created_via": "checkout",
        "status": "processing",
        "currency": "USD",
        "date_created_gmt": "2026-11-20T14:30:00",
        "date_modified_gmt": "2026-11-20T14:30:05",
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "4.95",
        "shipping_tax": "0.00",
        "cart_tax": "1.60",
        "total": "26.55",
        "total_tax": "1.60",
        "prices_include_tax": False,
        "customer_note": "",
        "billing": {
            "first_name": "Ann",
            "last_name": "Lee",
            "company": "",
            "address_1": "1 Sample Street",
            "address_2": "",
            "city": "Austin",
            "state": "TX",
            "postcode": "78701",
            "country": "US",
            "email": "ann@example.com",
            "phone": "+15125550100",
        },
        "shipping": {
            "first_name": "Ann",
            "last_name": "Lee",
            "company": "",
            "address_1": "1 Sample Street",
            "address_2": "",
            "city": "Austin",
            "state": "TX",
            "postcode": "78701",
            "country": "US",
            "phone": "",
        },
        "line_items": [
            {
                "id": 41,
                "name": "T-shirt black M",
                "product_id": 93,
                "variation_id": 0,
                "quantity": 2,
                "subtotal": "20.00",
                "subtotal_tax": "1.60",
                "total": "20.00",
                "total_tax": "1.60",
                "sku": "TSH-BLK-M",
                "price": 10,
            }
        ],
        "shipping_lines": [
            {
                "id": 42,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": "4.95",
                "total_tax": "0.00",
                "meta_data": [
                    {"id": 7, "key": "Items", "value": "T-shirt black M &times; 2"}
                ],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
    }
    order.update(changes)
    for shipping_line in order["shipping_lines"]:
        shipping_line["meta_data"][0]["value"] = ", ".join(
            f"{item['name']} &times; {item['quantity']}"
            for item in order["line_items"]
            if packed is None or item["name"] in packed
        )
    return order


def moved(resource: dict, modified: str, city: str, postcode: str) -> dict:
    """The same order after the shop changed its ship-to city at `modified`."""
    changed = copy.deepcopy(resource)
    changed["date_modified_gmt"] = modified
    changed["shipping"].update(city=city, postcode=postcode)
    return changed


def test_late_update_is_ignored_with_both_timestamps(client, woo):
    created = woo_order()
    post_resource(client, created, delivery="w-1")
    newer = moved(created, "2026-11-20T16:00:00", "Dallas", "75201")
    older = moved(created, "2026-11-20T15:00:00", "Houston", "77002")

    post_resource(client, newer, topic="order.updated", delivery="w-2")
    post_resource(client, older, topic="order.updated", delivery="w-3")

    order = Order.objects.get(external_id="5120")
    assert (order.ship_city, order.ship_postcode) == ("Dallas", "75201")
    late = InboundMessage.objects.get(delivery_id="w-3")
    assert late.status == InboundMessage.Status.IGNORED
    assert late.order_id == order.pk
    assert "date_modified_gmt 2026-11-20T15:00:00+00:00" in late.error
    assert "date_modified_gmt 2026-11-20T16:00:00+00:00" in late.error


def test_late_cancellation_does_not_undo_a_newer_update(client, woo):
    created = woo_order()
    post_resource(client, created, delivery="w-1")
    newer = moved(created, "2026-11-20T16:00:00", "Dallas", "75201")
    older_cancel = woo_order(
        status="cancelled", date_modified_gmt="2026-11-20T15:00:00"
    )

    post_resource(client, newer, topic="order.updated", delivery="w-2")
    post_resource(client, older_cancel, topic="order.updated", delivery="w-3")

    order = Order.objects.get(external_id="5120")
    assert order.status != "cancelled"
    assert InboundMessage.objects.get(delivery_id="w-3").status == "ignored"


def test_update_of_an_order_here_is_checked_as_an_update(client, woo):
    """An update carries the order's lines as the shop holds them now; they
    are not taken again, so a line the OMS could not take as new (here one
    without a SKU, added in the shop's admin) does not refuse the change."""
    created = woo_order()
    post_resource(client, created, delivery="w-1")
    updated = moved(created, "2026-11-20T16:00:00", "Dallas", "75201")
    updated["line_items"].append(
        {
            "id": 43,
            "name": "Gift wrapping",
            "product_id": 501,
            "variation_id": 0,
            "quantity": 1,
            "subtotal": "3.00",
            "subtotal_tax": "0.00",
            "total": "3.00",
            "total_tax": "0.00",
            "sku": "",
            "price": 3,
        }
    )

    post_resource(client, updated, topic="order.updated", delivery="w-2")

    message = InboundMessage.objects.get(delivery_id="w-2")
    assert (message.status, message.error) == ("processed", "")
    order = Order.objects.get(external_id="5120")
    assert (order.ship_city, order.ship_postcode) == ("Dallas", "75201")
    assert list(order.lines.values_list("sku", "quantity")) == [("TSH-BLK-M", 2)]


def test_coupon_that_does_not_divide_evenly_is_taken(client, woo):
    """3 mugs at 8.00 less a 16.00 cart coupon: WooCommerce's line `price` is
    8.00 / 3 = 2.6666666666666665; the order keeps 8.00 a mug, 16.00 off."""
    resource = woo_order(
        discount_total="16.00",
        cart_tax="0.00",
        total_tax="0.00",
        total="12.95",
        line_items=[
            {
                "id": 51,
                "name": "Mug white",
                "product_id": 77,
                "variation_id": 0,
                "quantity": 3,
                "subtotal": "24.00",
                "subtotal_tax": "0.00",
                "total": "8.00",
                "total_tax": "0.00",
                "sku": "MUG-WHT",
                "price": 2.6666666666666665,
            }
        ],
        coupon_lines=[
            {"id": 52, "code": "16off", "discount": "16", "discount_tax": "0"}
        ],
    )

    post_resource(client, resource)

    order = Order.objects.get(external_id="5120")
    assert InboundMessage.objects.get().status == "processed"
    assert order.status == "allocated"
    assert (order.subtotal, order.discount_amount, order.total) == (
        Decimal("8.00"),
        Decimal("16.00"),
        Decimal("12.95"),
    )
    assert order.discount_codes == ["16off"]
    line = order.lines.get()
    assert (line.unit_price, line.discount_amount, line.total) == (
        Decimal("8.00"),
        Decimal("16.00"),
        Decimal("8.00"),
    )


def test_tax_inclusive_prices_and_taxed_shipping_are_not_taxed_again(client, woo):
    """A German shop: 20.00 with 19 % VAT in (16.81 + 3.19), shipping 4.95
    with its VAT in (4.16 + 0.79); the customer pays 24.95."""
    resource = woo_order(
        prices_include_tax=True,
        currency="EUR",
        shipping_total="4.16",
        shipping_tax="0.79",
        cart_tax="3.19",
        total_tax="3.98",
        total="24.95",
        line_items=[
            {
                "id": 61,
                "name": "T-shirt black M",
                "product_id": 93,
                "variation_id": 0,
                "quantity": 1,
                "subtotal": "16.81",
                "subtotal_tax": "3.19",
                "total": "16.81",
                "total_tax": "3.19",
                "sku": "TSH-BLK-M",
                "price": 16.806722689075631,
            }
        ],
    )
    resource["shipping_lines"][0].update(total="4.16", total_tax="0.79")

    post_resource(client, resource)

    order = Order.objects.get(external_id="5120")
    assert order.prices_include_tax is True
    assert (order.status, order.hold_reason) == ("allocated", "")
    assert (
        order.subtotal,
        order.shipping_amount,
        order.tax_amount,
        order.total,
    ) == (Decimal("20.00"), Decimal("4.95"), Decimal("3.98"), Decimal("24.95"))
    line = order.lines.get()
    assert (line.unit_price, line.total, line.requires_shipping) == (
        Decimal("20.00"),
        Decimal("20.00"),
        True,
    )


def test_fees_count_in_the_total_and_never_ship(client, woo):
    """Gift wrap is a fee the customer pays (a line that does not ship); a
    fee below zero is how plugins give a discount on the whole order."""
    resource = woo_order(
        total="24.05",
        fee_lines=[
            {
                "id": 71,
                "name": "Gift wrap",
                "tax_status": "none",
                "total": "2.50",
                "total_tax": "0.00",
            },
            {
                "id": 72,
                "name": "Loyalty discount",
                "tax_status": "none",
                "total": "-5.00",
                "total_tax": "0.00",
            },
        ],
    )

    post_resource(client, resource)

    order = Order.objects.get(external_id="5120")
    assert (order.status, order.hold_reason) == ("allocated", "")
    assert (order.subtotal, order.discount_amount, order.total) == (
        Decimal("17.50"),
        Decimal("5.00"),
        Decimal("24.05"),
    )
    fee = order.lines.get(name="Gift wrap")
    assert (fee.sku, fee.total, fee.requires_shipping, fee.external_id) == (
        "",
        Decimal("2.50"),
        False,
        "71",
    )


def test_downloadable_line_not_packed_at_checkout_is_kept_without_shipping(client, woo):
    """WooCommerce's checkout names what it packed in the shipping line's
    `Items` meta: an e-book without SKU that is not named there is kept on the
    order, counted, and never reserved."""
    resource = woo_order(
        packed=["T-shirt black M"],
        total="36.55",
        line_items=[
            *woo_order()["line_items"],
            {
                "id": 44,
                "name": "Style guide (PDF)",
                "product_id": 88,
                "variation_id": 0,
                "quantity": 1,
                "subtotal": "10.00",
                "subtotal_tax": "0.00",
                "total": "10.00",
                "total_tax": "0.00",
                "sku": "",
                "price": 10,
            },
        ],
    )

    post_resource(client, resource)

    order = Order.objects.get(external_id="5120")
    assert order.status == "allocated"
    assert order.total == Decimal("36.55")
    ebook = order.lines.get(name="Style guide (PDF)")
    assert (ebook.requires_shipping, ebook.product_id, ebook.external_id) == (
        False,
        None,
        "88",
    )


def test_on_hold_order_waits_for_payment(client, woo):
    post_resource(client, woo_order(status="on-hold"), delivery="w-1")

    assert not Order.objects.exists()
    assert "on-hold" in InboundMessage.objects.get(delivery_id="w-1").error

    post_resource(
        client,
        woo_order(date_modified_gmt="2026-11-21T09:00:00"),
        topic="order.updated",
        delivery="w-2",
    )

    order = Order.objects.get(external_id="5120")
    assert (order.status, order.financial_status) == ("allocated", "paid")


@pytest.mark.parametrize(
    ("created_via", "ships"),
    [("checkout", False), ("store-api", False), ("admin", True), ("rest-api", True)],
)
def test_order_without_shipping_line_ships_unless_the_checkout_made_it(
    created_via, ships
):
    """The checkout adds a shipping line exactly when the cart needs one; in
    the admin or through the API a person may simply have left it out."""
    resource = woo_order(created_via=created_via, shipping_lines=[])

    body = woocommerce_order_body(resource)

    assert [line["requires_shipping"] for line in body["lines"]] == [ships]


def test_shipping_line_without_items_meta_ships_every_line():
    """A shop in another language writes `Items` in it (or a plugin made the
    shipping line): nothing says a line was left out, so all ship."""
    resource = woo_order()
    resource["shipping_lines"][0]["meta_data"] = [
        {"id": 7, "key": "Artikel", "value": "T-shirt black M &times; 2"}
    ]

    body = woocommerce_order_body(resource)

    assert [line["requires_shipping"] for line in body["lines"]] == [True]
