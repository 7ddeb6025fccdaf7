"""Shared fixtures."""

from decimal import Decimal

import pytest

from inventory.services import stock_receive
from orders.addresses import Address
from orders.services.orders import LineInput, order_create
from tests import factories

DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


@pytest.fixture(autouse=True)
def _empty_cache(request):
    """Each test that reaches the database starts with an empty shared cache
    (a table of the test database: a test's own writes to it roll back, a
    transactional test's would stay). A test without the database cannot
    reach the cache either."""
    from django.core.cache import cache

    if request.node.get_closest_marker("django_db") is None and not (
        DATABASE_FIXTURES & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("django_db_setup")  # the test database, never another
    with request.getfixturevalue("django_db_blocker").unblock():
        cache.clear()


@pytest.fixture
def user(db):
    return factories.UserFactory(username="clerk")


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="boss", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def channel(db):
    return factories.ChannelFactory()


@pytest.fixture
def customer(db):
    return factories.CustomerFactory()


@pytest.fixture
def location(db):
    return factories.LocationFactory(code="RNO", priority=10)


@pytest.fixture
def product(db):
    return factories.ProductFactory(sku="TSH-BLK-M", name="T-shirt black M")


@pytest.fixture
def stock(location, user):
    """Receive stock into a location: stock(product, quantity, location=...)."""

    def receive(product, quantity, at=None):
        return stock_receive(
            product=product, location=at or location, quantity=quantity, actor=user
        )

    return receive


TOWNS = {
    "US": {"city": "Austin", "region": "TX", "postcode": "78701"},
    "CA": {"city": "Toronto", "region": "ON", "postcode": "M5V 2T6"},
    "DE": {"city": "Berlin", "postcode": "10115"},
    "FR": {"city": "Paris", "postcode": "75001"},
    "GB": {"city": "London", "postcode": "SW1A 1AA"},
    "JP": {"city": "Chiyoda-ku", "region": "Tokyo", "postcode": "100-0001"},
}


@pytest.fixture
def place_order(channel, customer, user):
    """Place an order through the service: place_order([(product, qty), ...])."""
    counter = {"n": 0}

    def place(items, *, country="US", allocate=True, priority=0, placed_at=None):
        counter["n"] += 1
        return order_create(
            channel=channel,
            customer=customer,
            external_id=f"T-{counter['n']}",
            address=Address(
                name="Ada Lovelace",
                address1="1 Main St",
                country=country,
                # A town that passes the destination's address rules.
                **TOWNS.get(country.upper(), {"city": "Austin"}),
            ),
            lines=[
                LineInput(product=p, quantity=q, unit_price=Decimal("10.00"))
                for p, q in items
            ],
            actor=user,
            allocate=allocate,
            priority=priority,
            placed_at=placed_at,
        )

    return place


@pytest.fixture
def carrier(db):
    return factories.CarrierFactory()


@pytest.fixture
def picked(stock, place_order, user):
    """Place allocated orders and put them on pick lists.

    picked([[(product, qty), ...], ...], at=location) returns the wave (see
    fulfillment.services.pick_lists_create).
    """
    from fulfillment.services.picking import pick_lists_create

    def make(orders, **order_options):
        placed = [place_order(items, **order_options) for items in orders]
        return pick_lists_create(order_ids=[o.pk for o in placed], actor=user)

    return make


@pytest.fixture
def shipped(place_order, stock, user, carrier):
    """Place orders and ship them whole through the warehouse services.

    shipped([(product, qty), ...], stock_first=True) returns the order, shipped;
    stock is received first unless stock_first=False.
    """
    from fulfillment.models import Shipment
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create
    from fulfillment.services.shipping import shipment_ship

    def make(items, *, stock_first=True, **order_options):
        if stock_first:
            for product, quantity in items:
                stock(product, quantity)
        order = place_order(items, **order_options)
        pick_lists_create(order_ids=[order.pk], actor=user)
        for shipment in Shipment.objects.filter(order=order).order_by("pk"):
            shipment_pack(shipment=shipment, actor=user)
            shipment_ship(
                shipment=shipment,
                actor=user,
                carrier=carrier,
                tracking_number=f"TR-{shipment.pk}",
            )
        order.refresh_from_db()
        return order

    return make
