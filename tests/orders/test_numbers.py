"""Order numbers never wait: while a CSV import's transaction is open in
another process (its numbers drawn, its orders written, not committed), an
API order and an order added in the admin get their numbers at once. The
request's connection gives up any lock it waits for after `WAIT_MS`, so a
wait fails the test (503 "try again") instead of being timed."""

import os
import re

import pytest
from django.db import connections

from connections.services.api_keys import channel_api_key_create
from core.sequences import sequence_reserve
from inventory.models import StockLevel
from orders.importing.services import orders_import
from orders.models import Channel, Order
from tests import factories
from tests.connections.test_api_views import order_body
from tests.orders.test_import import csv_bytes, row
from tests.support.database import lock_timeout
from tests.support.races import fork_safely, reap

pytestmark = pytest.mark.django_db(transaction=True)

IMPORTED = 200
WAIT_MS = 500
NUMBER = re.compile(r"^SO-(\d{6,})$")


def _import_and_hold(data: bytes, signal_dir: str) -> None:
    """Run an import that pauses inside its transaction, after writing."""
    os.environ["OMS_FAULT_PAUSE"] = "import.write=120"
    os.environ["OMS_FAULT_SIGNAL_DIR"] = signal_dir
    try:
        orders_import(data=data, actor=None, settle=True)
    finally:
        connections.close_all()


@pytest.fixture
def shop(db):
    """A web channel, a location, a product the import takes and one it does
    not (the orders placed meanwhile take that one: they reserve other stock)."""
    factories.ChannelFactory(code="web", name="Web shop")
    location = factories.LocationFactory(code="RNO", ships_to="")
    imported = factories.ProductFactory(sku="TSH-BLK-M")
    other = factories.ProductFactory(sku="CAP-OLV-OS")
    for product in (imported, other):
        StockLevel.objects.create(product=product, location=location, on_hand=1000)
    return other


@pytest.fixture
def import_held(shop, tmp_path):
    """Start an import of IMPORTED orders in another process and return the
    last order number in use before it, once its transaction is open with
    everything written; kill it afterwards (its transaction rolls back)."""
    before = sequence_reserve(name="order")[0]
    data = csv_bytes([row(ref=f"IMP-{n}") for n in range(IMPORTED)])
    context = fork_safely()
    process = context.Process(target=_import_and_hold, args=(data, str(tmp_path)))
    process.start()
    signal = tmp_path / "import.write"
    try:
        for _ in range(1200):
            if signal.exists() or not process.is_alive():
                break
            process.join(timeout=0.1)
        assert signal.exists(), "the import never reached its pause"
        yield before
    finally:
        process.kill()
        reap([process])


def _admin_order_form(channel, customer, product) -> dict:
    return {
        "channel": channel.pk,
        "external_id": "ADMIN-1",
        "customer": customer.pk,
        "placed_at_0": "2026-11-20",
        "placed_at_1": "10:00:00",
        "priority": 0,
        "ship_name": "Ann Lee",
        "ship_address1": "1 Main St",
        "ship_city": "Austin",
        "ship_region": "TX",
        "ship_postcode": "78701",
        "ship_country": "US",
        "currency": "USD",
        "shipping_amount": "4.95",
        "tax_amount": "0",
        "lines-TOTAL_FORMS": 1,
        "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
        "lines-0-product": product.pk,
        "lines-0-quantity": 1,
        "lines-0-unit_price": "12.00",
        "_save": "Save",
    }


def _number(text: str) -> int:
    match = NUMBER.match(text)
    assert match, text
    return int(match.group(1))


def test_api_and_admin_orders_get_numbers_while_an_import_is_open(
    client, admin_client, shop, import_held
):
    web = Channel.objects.get(code="web")
    key = channel_api_key_create(channel=web, name="shop")[1]
    customer = factories.CustomerFactory()
    # Not one of the import's orders is visible: its transaction is open.
    assert not Order.objects.filter(external_id__startswith="IMP-").exists()

    with lock_timeout(WAIT_MS):
        api = client.post(
            "/api/v1/orders",
            order_body(
                "API-1", lines=[{"sku": shop.sku, "quantity": 1, "unit_price": "12.00"}]
            ),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        admin = admin_client.post(
            "/admin/orders/order/add/", _admin_order_form(web, customer, shop)
        )

    assert api.status_code == 201, api.content
    assert admin.status_code == 302, admin.content.decode()[:2000]
    added = Order.objects.get(external_id="ADMIN-1")
    numbers = [_number(api.json()["number"]), _number(added.number)]
    # Both come after the import's block of numbers, drawn before them.
    assert min(numbers) > import_held + IMPORTED
    assert numbers[0] != numbers[1]
