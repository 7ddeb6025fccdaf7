"""Pack station fixtures: three products with GTINs and a shipment being
picked (1 × TEE-1, 2 × TEE-2, 3 × TEE-3)."""

import pytest

from fulfillment.models import Shipment, ShipmentStatus
from inventory.models import StockLevel
from tests import factories


@pytest.fixture
def products(db):
    return [
        factories.ProductFactory(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"400000000000{n}", weight_g=200
        )
        for n in range(1, 4)
    ]


@pytest.fixture
def shipment(products, stock, picked, location):
    """A shipment being picked: 1 × TEE-1, 2 × TEE-2, 3 × TEE-3."""
    for product in products:
        stock(product, 10)
    StockLevel.objects.filter(product=products[0]).update(bin="A-01-1")
    picked([[(products[0], 1), (products[1], 2), (products[2], 3)]])
    return Shipment.objects.get(status=ShipmentStatus.PICKING)
