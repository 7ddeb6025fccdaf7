"""An imported order to a country no location ships to says so on its
timeline, not "waiting for stock" (the import's own allocation path)."""

import pytest

from inventory.models import Location
from orders.models import Order, OrderEvent, OrderStatus
from tests.orders.test_import import catalogue, csv_bytes, row, run  # noqa: F401


@pytest.mark.django_db
def test_imported_order_to_a_country_no_location_ships_to_says_so(catalogue):  # noqa: F811
    Location.objects.update(ships_to=["US"])
    japan = row(
        ref="JP-1",
        ship_city="Chiyoda-ku",
        ship_region="Tokyo",
        ship_postcode="100-0001",
        ship_country="JP",
    )

    result = run(csv_bytes([japan, row(ref="US-1")]), settle=True)

    assert result.ok and result.written
    order = Order.objects.get(external_id="JP-1")
    assert order.status == OrderStatus.BACKORDERED
    assert OrderEvent.objects.get(order=order, kind="backordered").message == (
        "No location ships to Japan: add the country to a location's shipping "
        "countries or cancel the order."
    )
    us = Order.objects.get(external_id="US-1")
    assert OrderEvent.objects.get(order=us, kind="backordered").message == (
        "Waiting for stock: 1 × TSH-BLK-M."
    )
