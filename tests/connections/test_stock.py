"""Available stock back to the shops: coalesced, in order, newest figure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.http import Outcome
from connections.models import ChannelListing, OutboundMessage
from connections.outbox.sending import (
    outbox_claim,
    outbox_dispatch,
    outbox_finish,
    outbox_send,
    outbox_send_due_run,
)
from orders.services.channels import channel_secret_generate
from tests.support.shops import FakeShopify, FakeWooCommerce, GenericChannel

pytestmark = pytest.mark.django_db

SECRET = channel_secret_generate()

Status = OutboundMessage.Status
ITEM = ("gid://shopify/InventoryItem/111", "gid://shopify/Location/222")


@pytest.fixture(autouse=True)
def _local_shops(settings):
    settings.OMS_SHOP_URL_SCHEME = "http"
    settings.OMS_OUTBOX_TIMEOUT = 2
    settings.OMS_STOCK_PUSH_COALESCE_SECONDS = 0


@pytest.fixture
def shopify(channel, product):
    with FakeShopify() as shop:
        channel.platform = "shopify"
        channel.shop_domain = shop.domain
        channel.access_token = FakeShopify.TOKEN
        channel.push_stock = True
        channel.save()
        ChannelListing.objects.create(
            channel=channel,
            product=product,
            shopify_inventory_item_id="111",
            shopify_location_id="222",
        )
        yield shop


def test_received_and_sold_stock_reaches_shopify(
    shopify, stock, place_order, product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 5)
    assert shopify.inventory[ITEM] == 5

    with django_capture_on_commit_callbacks(execute=True):
        place_order([(product, 2)])  # reserved: two fewer to sell

    assert shopify.inventory[ITEM] == 3
    [first, second] = shopify.operations("inventorySetQuantities")
    assert first["input"]["name"] == "available"
    assert first["input"]["ignoreCompareQuantity"] is True
    assert second["input"]["quantities"] == [
        {"inventoryItemId": ITEM[0], "locationId": ITEM[1], "quantity": 3}
    ]


def test_changes_within_the_window_coalesce_into_one_push_of_the_newest_quantity(
    shopify, stock, product, settings, django_capture_on_commit_callbacks
):
    settings.OMS_STOCK_PUSH_COALESCE_SECONDS = 5
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 3)

    assert shopify.requests == []  # not yet: the window is open
    assert OutboundMessage.objects.filter(status=Status.PENDING).count() == 1

    outbox_send_due_run(now=timezone.now() + timedelta(seconds=6))

    [push] = shopify.operations("inventorySetQuantities")
    assert push["input"]["quantities"][0]["quantity"] == 8
    message = OutboundMessage.objects.get()
    assert (message.status, message.sent_quantity) == (Status.SENT, 8)


def test_a_push_never_overtakes_one_on_its_way(
    shopify, stock, product, settings, django_capture_on_commit_callbacks
):
    settings.OMS_STOCK_PUSH_COALESCE_SECONDS = 5
    soon = timezone.now() + timedelta(seconds=6)
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 5)
    first = OutboundMessage.objects.get()
    first = outbox_claim(first.pk, soon)  # its sender is on its way

    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 4)
    second = OutboundMessage.objects.exclude(pk=first.pk).get()
    # Due, but the first push has not landed: it waits its turn.
    assert outbox_send(message_id=second.pk, now=soon + timedelta(seconds=6)) is None
    second.refresh_from_db()
    assert second.status == Status.PENDING

    outcome = Outcome()
    outbox_dispatch(first, outcome)
    outbox_finish(first, outcome=outcome, failure=None, started=soon, duration_ms=1)
    outbox_send(message_id=second.pk, now=soon + timedelta(seconds=20))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.SENT, Status.SENT)
    assert second.sequence > first.sequence
    assert shopify.inventory[ITEM] == 9


def test_a_failed_push_gives_way_to_a_newer_one(
    shopify, stock, product, django_capture_on_commit_callbacks
):
    shopify.fail_with = [503]
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 5)
    first = OutboundMessage.objects.get()
    assert first.status == Status.PENDING  # retry planned

    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 1)  # joins the waiting push: nothing new

    assert OutboundMessage.objects.count() == 1
    outbox_send_due_run(now=timezone.now() + timedelta(minutes=5))
    first.refresh_from_db()
    assert (first.status, first.sent_quantity) == (Status.SENT, 6)
    assert shopify.inventory[ITEM] == 6


def test_woocommerce_products_get_their_stock_quantity(
    channel, product, stock, django_capture_on_commit_callbacks
):
    with FakeWooCommerce() as shop:
        shop.add_product(77, stock=0)
        channel.platform = "woocommerce"
        channel.shop_domain = shop.domain
        channel.access_token = FakeWooCommerce.KEY
        channel.push_stock = True
        channel.save()
        ChannelListing.objects.create(
            channel=channel, product=product, woocommerce_product_id=77
        )

        with django_capture_on_commit_callbacks(execute=True):
            stock(product, 12)

    assert shop.products[77]["stock_quantity"] == 12
    [put] = shop.requests
    assert (put["method"], put["path"]) == ("PUT", "/wp-json/wc/v3/products/77")


def test_generic_channels_get_a_signed_inventory_update_with_its_sequence(
    channel, product, stock, django_capture_on_commit_callbacks
):
    with GenericChannel(SECRET) as server:
        channel.webhook_url = server.url
        channel.webhook_secret = SECRET
        channel.push_stock = True
        channel.save()
        with django_capture_on_commit_callbacks(execute=True):
            stock(product, 7)
        with django_capture_on_commit_callbacks(execute=True):
            stock(product, 1)

    first, second = server.received
    assert first["signed"] and second["signed"]
    assert first["event"] == "inventory.updated"
    assert (first["body"]["sku"], first["body"]["available"]) == ("TSH-BLK-M", 7)
    assert second["body"]["available"] == 8
    assert second["body"]["sequence"] > first["body"]["sequence"]


def test_channels_that_do_not_push_stock_record_nothing(
    channel, product, stock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 3)
    assert not OutboundMessage.objects.exists()
