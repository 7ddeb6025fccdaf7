"""The pack station under real concurrency (PostgreSQL, OS processes): scans
racing on one shipment never count more than expected, and two stations
opening the same slip at once never both hold it."""

import pytest
from django.db import connections

from fulfillment.exceptions import PackStationBusyError
from fulfillment.models import PackClaim, PackScan, Shipment, ShipmentStatus
from fulfillment.services import packstation as station
from tests import factories
from tests.support.races import race

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = 5
RACERS = 8


@pytest.fixture
def shipment(stock, picked, user):
    product = factories.ProductFactory(sku="TEE-1", barcode="4000000000017")
    stock(product, 20)
    picked([[(product, EXPECTED)]])
    return Shipment.objects.get(status=ShipmentStatus.PICKING)


def _scan(barrier, shipment_id: int, user_id: int) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    barrier.wait()
    outcome = station.packstation_scan(
        shipment_id=shipment_id, code="TEE-1", actor=user, station="st-a"
    )
    connections.close_all()
    return "accepted" if outcome.accepted else "refused"


def _open(barrier, number: str, user_id: int, name: str) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    barrier.wait()
    try:
        station.packstation_open(code=number, actor=user, station=name)
    except PackStationBusyError:
        return "busy"
    finally:
        connections.close_all()
    return "opened"


def test_racing_scans_never_count_past_the_expected_quantity(shipment, user):
    station.packstation_open(code=shipment.number, actor=user, station="st-a")

    results = race(_scan, [(shipment.pk, user.pk)] * RACERS)

    assert results.count("accepted") == EXPECTED
    assert results.count("refused") == RACERS - EXPECTED
    accepted = PackScan.objects.filter(shipment=shipment, kind="item", accepted=True)
    assert sum(scan.quantity for scan in accepted) == EXPECTED


def test_two_stations_opening_at_once_never_both_hold_the_shipment(shipment, user):
    results = race(_open, [(shipment.number, user.pk, f"st-{n}") for n in range(4)])

    assert sorted(results) == ["busy", "busy", "busy", "opened"]
    assert PackClaim.objects.filter(shipment=shipment).count() == 1
    assert PackScan.objects.filter(shipment=shipment, kind="open").count() == 1
