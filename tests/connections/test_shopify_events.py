"""Shopify's messages in the order they really come: a cancellation before
its order, an order waiting for its payment then paid, a note changed, an
update checked as an update, an order of gift cards only — with Shopify's own
bodies (tests/fixtures/real/shopify), posted signed and drained."""

import copy
from decimal import Decimal

import pytest

from connections.inbox.draining import inbound_drain
from connections.models import InboundMessage
from inventory.models import StockLevel
from orders.models import Order, OrderStatus
from tests import factories
from tests.connections.test_inbox_draining import database_queue  # noqa: F401
from tests.connections.test_inbox_webhooks import post_woo, woo_order
from tests.connections.test_shopify_corpus import (
    corpus_shop,  # noqa: F401 (a fixture)
    delivered,
    post,
    published,
)

Status = InboundMessage.Status
LIST = "rest-2024-04-orders-list.json"  # #1001 as placed
CANCELLED = "rest-2024-04-order-cancel-with-refund.json"  # #1001 cancelled


def reserved() -> int:
    return sum(StockLevel.objects.values_list("allocated", flat=True))


@pytest.mark.usefixtures("corpus_shop")
def test_cancellation_before_its_order_is_kept_then_applied(client):
    early = delivered(
        client, published(CANCELLED), topic="orders/cancelled", delivery="c-1"
    )
    assert early.status == Status.EARLY
    assert "not here yet" in early.error
    assert not Order.objects.exists()

    created = delivered(client, published(LIST), topic="orders/create", delivery="o-1")

    order = created.order
    assert created.status == Status.PROCESSED
    assert order.status == OrderStatus.CANCELLED
    early.refresh_from_db()
    assert (early.status, early.order) == (Status.PROCESSED, order)
    assert reserved() == 0


@pytest.mark.usefixtures("corpus_shop")
def test_cancellation_before_its_order_without_a_queue(client, settings):
    """With the immediate task backend each message is applied alone."""
    settings.OMS_TASKS_BACKEND = "immediate"
    early = delivered(
        client, published(CANCELLED), topic="orders/cancelled", delivery="c-1"
    )
    created = delivered(client, published(LIST), topic="orders/create", delivery="o-1")

    assert early.status == Status.EARLY
    assert created.order.status == OrderStatus.CANCELLED
    assert reserved() == 0


@pytest.mark.usefixtures("corpus_shop")
def test_cancellation_and_order_in_one_batch(client):
    """Both stored before the worker drains: the batch takes the order in
    and then applies the cancellation that came first."""
    post(client, published(CANCELLED), topic="orders/cancelled", delivery="c-1")
    post(client, published(LIST), topic="orders/create", delivery="o-1")
    inbound_drain()

    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {
        Status.PROCESSED
    }
    assert reserved() == 0


def test_woocommerce_cancellation_before_its_order(client, db, product, stock):
    stock(product, 10)
    factories.ChannelFactory(
        code="woo-de",
        platform="woocommerce",
        inbound_secret="shpss_0123456789abcdef",
    )
    post_woo(
        client, woo_order(status="cancelled"), topic="order.updated", delivery="w-1"
    )
    inbound_drain()
    early = InboundMessage.objects.get(delivery_id="w-1")
    assert early.status == Status.EARLY

    post_woo(client, woo_order(), topic="order.created", delivery="w-2")
    inbound_drain()

    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    early.refresh_from_db()
    assert early.status == Status.PROCESSED
    assert reserved() == 0


@pytest.mark.usefixtures("corpus_shop")
def test_update_of_an_order_here_is_checked_as_an_update(client):
    """An update is not refused for what creating the order checked (here a
    line without SKU and no e-mail): its new address is applied."""
    delivered(client, published(LIST), topic="orders/create", delivery="o-1")
    update = copy.deepcopy(published(LIST))
    update["updated_at"] = "2024-04-02T10:00:00-05:00"
    update["email"] = update["contact_email"] = ""
    update["customer"]["email"] = ""
    update["line_items"][0]["sku"] = ""
    update["shipping_address"]["address1"] = "7 Other Street"

    message = delivered(client, update, topic="orders/updated", delivery="u-1")

    assert message.status == Status.PROCESSED
    assert message.order.ship_address1 == "7 Other Street"


@pytest.mark.usefixtures("corpus_shop")
def test_update_with_a_bad_address_names_the_field(client):
    delivered(client, published(LIST), topic="orders/create", delivery="o-1")
    update = copy.deepcopy(published(LIST))
    update["updated_at"] = "2024-04-02T10:00:00-05:00"
    update["shipping_address"]["country_code"] = "XX"
    update["shipping_address"]["country"] = "Nowhere"

    message = delivered(client, update, topic="orders/updated", delivery="u-1")

    assert message.status == Status.FAILED
    assert "shipping_address.country" in message.error
    assert Order.objects.get().ship_country == "US"


pytestmark = pytest.mark.usefixtures("database_queue")


PARTIALLY_PAID = "rest-2024-04-order-create-partially-paid.json"  # #1002


@pytest.mark.usefixtures("corpus_shop")
def test_order_waiting_for_payment_is_released_by_orders_paid(client):
    waiting = delivered(
        client, published(PARTIALLY_PAID), topic="orders/create", delivery="o-1"
    )
    order = waiting.order
    assert (order.status, order.hold_reason) == (OrderStatus.ON_HOLD, "payment")
    assert reserved() == 0
    # What Shopify sends once the rest is captured: the same order, paid.
    paid = copy.deepcopy(published(PARTIALLY_PAID))
    paid.update(
        financial_status="paid",
        total_outstanding="0.00",
        updated_at="2024-04-02T09:30:00-05:00",
    )

    message = delivered(client, paid, topic="orders/paid", delivery="p-1")

    order.refresh_from_db()
    assert message.status == Status.PROCESSED
    assert (order.status, order.hold_reason) == (OrderStatus.ALLOCATED, "")
    assert order.financial_status == "paid"
    assert reserved() == 1
    assert "partially_paid" in " ".join(order.events.values_list("message", flat=True))


@pytest.mark.usefixtures("corpus_shop")
def test_order_still_unpaid_stays_on_hold(client):
    delivered(client, published(PARTIALLY_PAID), topic="orders/create", delivery="o-1")
    pending = copy.deepcopy(published(PARTIALLY_PAID))
    pending.update(financial_status="pending", updated_at="2024-04-02T09:30:00-05:00")

    delivered(client, pending, topic="orders/updated", delivery="u-1")

    order = Order.objects.get()
    assert (order.status, order.financial_status) == (OrderStatus.ON_HOLD, "pending")
    assert reserved() == 0


@pytest.mark.usefixtures("corpus_shop")
def test_orders_paid_before_its_create_takes_the_order_in_paid(client):
    paid = copy.deepcopy(published(PARTIALLY_PAID))
    paid["financial_status"] = "paid"

    delivered(client, paid, topic="orders/paid", delivery="p-1")
    late = delivered(
        client, published(PARTIALLY_PAID), topic="orders/create", delivery="o-1"
    )

    order = Order.objects.get()
    assert order.status == OrderStatus.ALLOCATED
    assert late.status == Status.DUPLICATE


@pytest.mark.usefixtures("corpus_shop")
def test_notes_updated_by_orders_updated(client):
    """Shopify's own answers to a note and a note-attributes change."""
    delivered(client, published(LIST), topic="orders/create", delivery="o-1")

    delivered(
        client,
        published("rest-2024-04-order-update-note.json"),
        topic="orders/updated",
        delivery="u-1",
    )

    order = Order.objects.get()
    assert order.note == "Customer contacted us about a custom engraving on this iPod"
    assert order.note_attributes == [
        {"name": "custom engraving", "value": "Happy Birthday"},
        {"name": "colour", "value": "green"},
    ]

    # Shopify's answer to the next example, a later change of the note
    # attributes alone, says the note is empty: the order follows it.
    delivered(
        client,
        published("rest-2024-04-order-update-note-attributes.json"),
        topic="orders/updated",
        delivery="u-2",
    )

    order.refresh_from_db()
    assert (order.note, order.note_attributes) == (
        "",
        [{"name": "colour", "value": "red"}],
    )
    assert order.status == OrderStatus.ALLOCATED
    timeline = " ".join(order.events.values_list("message", flat=True))
    assert "custom engraving on this iPod" in timeline
    assert "colour: red" in timeline


@pytest.mark.usefixtures("corpus_shop")
def test_order_of_gift_cards_only(client):
    """A gift card needs no SKU and no stock: kept with its price and
    discount, counted in the total, never reserved or shipped."""
    body = copy.deepcopy(published("rest-2024-04-order-create-discount.json"))
    card = body["line_items"][0]
    card.update(gift_card=True, requires_shipping=False, sku=None, product_id=None)

    message = delivered(client, body, topic="orders/create", delivery="g-1")

    order = message.order
    assert message.status == Status.PROCESSED, message.error
    [line] = order.lines.all()
    assert (line.sku, line.requires_shipping, line.product_id) == ("", False, None)
    assert (line.discount_amount, line.total) == (
        Decimal("17.91"),
        Decimal("181.09"),
    )
    assert order.total == order.stated_total == Decimal("181.09")
    # Nothing to ship: complete at once, without a shipment.
    assert order.status == OrderStatus.DELIVERED
    assert not order.shipments.exists()
    assert reserved() == 0


@pytest.mark.usefixtures("corpus_shop")
def test_address_changed_by_shopifys_own_update(client):
    delivered(client, published(LIST), topic="orders/create", delivery="o-1")

    message = delivered(
        client,
        published("rest-2024-04-order-update-shipping-address.json"),
        topic="orders/updated",
        delivery="u-1",
    )

    order = message.order
    assert message.status == Status.PROCESSED, message.error
    assert (order.ship_address1, order.ship_city) == ("4 Ship Way", "Shipsville")
    assert order.status == OrderStatus.ALLOCATED


@pytest.mark.usefixtures("corpus_shop")
def test_tax_inclusive_prices_and_a_shipping_discount(client):
    """No body Shopify published has `taxes_included` true or a discounted
    shipping line; both are set here on the 17.91 discount example, the
    figures Shopify would then state: the tax inside the prices is not added
    again, and free shipping (10.00 less 10.00) costs nothing."""
    body = copy.deepcopy(published("rest-2024-04-order-create-discount.json"))
    body.update(taxes_included=True, total_tax="16.46")
    body["shipping_lines"] = [
        {
            "id": 1,
            "title": "Standard",
            "code": "STANDARD",
            "price": "10.00",
            "discounted_price": "0.00",
            "discount_allocations": [{"amount": "10.00"}],
        }
    ]

    message = delivered(client, body, topic="orders/create", delivery="t-1")

    order = message.order
    assert message.status == Status.PROCESSED, message.error
    assert order.prices_include_tax is True
    assert (order.shipping_amount, order.shipping_discount, order.tax_amount) == (
        Decimal("10.00"),
        Decimal("10.00"),
        Decimal("16.46"),
    )
    assert order.total == order.stated_total == Decimal("181.09")
    assert order.status == OrderStatus.ALLOCATED
