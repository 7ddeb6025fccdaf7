"""The pack station at a location that buys postage through EasyPost: one
key packs, the label is bought in the background and the shipment ships."""

import pytest

from fulfillment.models import PackScan, Shipment, ShipmentPostage, ShipmentStatus
from fulfillment.services import packstation as station
from tests import factories
from tests.fulfillment.postage import conftest as postage_fixtures

# The postage tests' fixtures: the local EasyPost and a location buying there.
easypost = postage_fixtures.easypost
easypost_carrier = postage_fixtures.easypost_carrier
postage_location = postage_fixtures.postage_location

HERE = "st-here"


@pytest.fixture
def scanned(postage_location, stock, picked, user):
    product = factories.ProductFactory(sku="TEE-1", barcode="4000000000017")
    stock(product, 5)
    picked([[(product, 2)]])
    shipment = Shipment.objects.get(status=ShipmentStatus.PICKING)
    station.packstation_open(code=shipment.number, actor=user, station=HERE)
    station.packstation_scan(
        shipment_id=shipment.pk, code="2*4000000000017", actor=user, station=HERE
    )
    return shipment


def test_station_options_say_the_label_is_bought(scanned, postage_location):
    options = station.station_options(location_id=postage_location.pk)

    assert options["easypost"] is True
    assert options["label_format"] == "PDF"


def test_pack_buys_the_cheapest_label_and_ships(
    scanned, easypost, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = station.packstation_pack(
            shipment_id=scanned.pk,
            actor=user,
            station=HERE,
            packages=1,
            weight="500",
        )

    scanned.refresh_from_db()
    postage = ShipmentPostage.objects.get(shipment=scanned)
    assert outcome.buying is True
    assert scanned.status == ShipmentStatus.SHIPPED
    assert postage.status == ShipmentPostage.Status.BOUGHT
    # No rate preference at the location: the cheapest rate is bought.
    cheapest = min(postage.rates, key=lambda rate: float(rate["rate"]))
    assert postage.rate_id == cheapest["id"]
    assert scanned.tracking_number == postage.tracking_code != ""
    progress = station.label_progress(shipment_id=scanned.pk)
    assert progress["shipped"] and progress["error"] == ""
    assert PackScan.objects.filter(shipment=scanned, kind="pack").exists()


def test_easypost_refusal_is_shown_and_the_shipment_stays_packed(
    scanned, easypost, user, monkeypatch, django_capture_on_commit_callbacks
):
    from fulfillment.postage import client

    def refuse(*args, **kwargs):
        raise client.PostageError("EasyPost refused: insufficient funds.")

    monkeypatch.setattr(client, "shipment_buy", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        station.packstation_pack(
            shipment_id=scanned.pk, actor=user, station=HERE, packages=1, weight="500"
        )

    progress = station.label_progress(shipment_id=scanned.pk)
    assert progress["status"] == ShipmentStatus.PACKED and not progress["shipped"]
    assert "insufficient funds" in progress["error"]
