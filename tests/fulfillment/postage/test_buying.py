"""Postage through EasyPost: carrier accounts, parcels, rates, buying."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from fulfillment.exceptions import FulfillmentError
from fulfillment.models import Carrier, ShipmentStatus
from fulfillment.models.postage import (
    Box,
    CarrierAccount,
    LocationPostage,
    RateChoice,
    ShipmentPostage,
)
from fulfillment.postage import client
from fulfillment.postage.buying import shipment_postage_buy, shipments_postage_buy
from fulfillment.postage.parcels import box_for, product_dimensions_mm
from fulfillment.postage.rates import rate_preferred, shipment_rates_fetch
from orders.models import OrderEvent
from tests.fulfillment.postage.conftest import TEST_KEY
from tests.support.files import stored_bytes

pytestmark = pytest.mark.django_db


# ---- carrier accounts


def test_carrier_account_test_mode_refuses_production_key(carrier):
    account = CarrierAccount(
        carrier=carrier,
        kind=CarrierAccount.Kind.EASYPOST,
        mode=CarrierAccount.Mode.TEST,
        api_key="EZAK_live",
    )
    with pytest.raises(ValidationError, match="starts with EZTK"):
        account.clean()


def test_carrier_account_refuses_bad_carrier_account_ids(carrier):
    account = CarrierAccount(
        carrier=carrier,
        kind=CarrierAccount.Kind.EASYPOST,
        api_key=TEST_KEY,
        carrier_account_ids="ca_ups, usps",
    )
    with pytest.raises(ValidationError, match="usps"):
        account.clean()


def test_manual_carrier_account_needs_no_key(carrier):
    account = CarrierAccount(carrier=carrier, kind=CarrierAccount.Kind.MANUAL)
    account.clean()
    assert not account.is_easypost


# ---- parcels


def test_product_dimensions_stack_smallest_sides():
    assert product_dimensions_mm([(2, 300, 200, 50), (1, 100, 250, 40)]) == (
        300,
        200,
        140,
    )


def test_product_dimensions_unknown_when_a_product_has_none():
    assert product_dimensions_mm([(1, 300, 200, None)]) is None


def test_box_for_picks_smallest_box_that_fits(location):
    small = Box(location=location, name="S", length_mm=200, width_mm=150, height_mm=100)
    large = Box(location=location, name="L", length_mm=400, width_mm=300, height_mm=300)
    assert box_for([large, small], (180, 90, 140)) == small
    assert box_for([large, small], (500, 10, 10)) is None


def test_packing_measures_parcel_from_products_and_box(packed, product, location):
    product.length_mm, product.width_mm, product.height_mm = 250, 180, 40
    product.save()
    Box.objects.create(
        location=location, name="Mailer", length_mm=300, width_mm=200, height_mm=60
    )
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.box.name == "Mailer"
    assert postage.dimensions_mm == (300, 200, 60)


# ---- rates


def test_packing_fetches_rates_with_the_parcel(packed, easypost):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.status == ShipmentPostage.Status.RATED
    assert [r["rate"] for r in postage.rates] == ["5.49", "7.80", "9.10", "31.25"]
    assert postage.easypost_shipment_id.startswith("shp_")
    sent = easypost.bodies[easypost.calls.index(("POST", "/v2/shipments"))]["shipment"]
    assert sent["reference"] == shipment.number
    assert sent["from_address"]["zip"] == "94104"
    assert sent["to_address"]["street1"] == "1 Main St"
    assert sent["parcel"]["weight"] > 0


def test_rates_limited_to_allowed_carrier_accounts(packed, easypost, easypost_carrier):
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(
        carrier_account_ids="ca_ups"
    )
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert {r["carrier"] for r in postage.rates} == {"UPS"}


def test_location_preference_picks_cheapest_rate(packed, easypost, postage_location):
    LocationPostage.objects.filter(location=postage_location).update(
        rate_choice=RateChoice.CHEAPEST
    )
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.rate(postage.rate_id)["rate"] == "5.49"


def test_rate_preference_by_date_and_preferred_carriers():
    rates = [
        {"id": "a", "carrier": "USPS", "rate": "5.00", "delivery_date": "2030-01-10"},
        {"id": "b", "carrier": "UPS", "rate": "9.00", "delivery_date": "2030-01-03"},
        {"id": "c", "carrier": "UPS", "rate": "7.00", "delivery_date": "2030-01-08"},
    ]
    from datetime import date

    assert (
        rate_preferred(
            rates, choice=RateChoice.CHEAPEST_BY_DATE, by_date=date(2030, 1, 5)
        )["id"]
        == "b"
    )
    assert (
        rate_preferred(
            rates, choice=RateChoice.PREFERRED_CARRIERS, preferred_carriers=["ups"]
        )["id"]
        == "c"
    )
    assert rate_preferred(rates, choice=RateChoice.NONE) is None


def test_rates_without_easypost_account_refused(packed, easypost, easypost_carrier):
    [shipment] = packed(1)
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(kind="manual")
    with pytest.raises(FulfillmentError, match="does not buy postage"):
        shipment_rates_fetch(shipment_id=shipment.pk)


# ---- buying


def test_buy_records_label_and_ships(packed, easypost, user):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    rate = postage.rates[1]
    postage = shipment_postage_buy(shipment=shipment, actor=user, rate_id=rate["id"])
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.tracking_number == postage.tracking_code != ""
    assert shipment.carrier.code == "easypost"
    assert shipment.service == "Priority"
    assert postage.cost == Decimal("7.80") and postage.currency == "USD"
    assert stored_bytes(postage.label_file).startswith(b"%PDF")
    assert postage.tracker_id.startswith("trk_")
    assert OrderEvent.objects.filter(
        order=shipment.order, message__contains="Label bought"
    ).exists()


def test_buy_creates_tracker_when_easypost_gave_none(
    packed, easypost, user, monkeypatch
):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    original = client.shipment_buy

    def without_tracker(*args, **kwargs):
        return original(*args, **kwargs) | {"tracker": None}

    monkeypatch.setattr(client, "shipment_buy", without_tracker)
    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
    )
    assert easypost.count("POST", "/v2/trackers") == 1
    assert postage.tracker_id.startswith("trk_")


def test_buy_timeout_then_retry_never_buys_twice(packed, easypost, user, settings):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    settings.OMS_EASYPOST_TIMEOUT = 1
    easypost.buy_delay = 1.5
    with pytest.raises(client.PostageUnavailable, match="did not answer in time"):
        shipment_postage_buy(
            shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
        )
    postage.refresh_from_db()
    shipment.refresh_from_db()
    assert postage.status == ShipmentPostage.Status.BUYING
    assert shipment.status == ShipmentStatus.PACKED
    easypost.buy_delay = 0
    postage = shipment_postage_buy(shipment=shipment, actor=user)
    shipment.refresh_from_db()
    assert easypost.buys == {postage.easypost_shipment_id: 1}
    assert easypost.count("GET", r"/v2/shipments/shp_\w+") == 1
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.tracking_number == postage.tracking_code


def test_buy_refused_by_easypost_shows_message_and_changes_nothing(
    packed, easypost, user
):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    easypost.buy_error = (402, "PAYMENT_REQUIRED", "Insufficient funds.")
    with pytest.raises(client.PostageError, match="Insufficient funds"):
        shipment_postage_buy(
            shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
        )
    postage.refresh_from_db()
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKED
    assert shipment.tracking_number == ""
    assert postage.status == ShipmentPostage.Status.RATED
    assert "Insufficient funds" in postage.error
    assert not postage.label_file


def test_buy_twice_refused(packed, easypost, user):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    with pytest.raises(FulfillmentError, match="already has a label"):
        shipment_postage_buy(shipment=shipment, actor=user)
    assert sum(easypost.buys.values()) == 1


def test_buy_many_concurrently(packed, easypost, user, postage_location):
    LocationPostage.objects.filter(location=postage_location).update(
        rate_choice=RateChoice.CHEAPEST
    )
    shipments = packed(6)
    report = shipments_postage_buy(
        choices=[(s.pk, "") for s in shipments], actor=user, workers=3
    )
    assert report.errors == []
    assert report.bought == sorted(s.number for s in shipments)
    assert (
        Carrier.objects.get(code="easypost")
        .shipments.filter(status=ShipmentStatus.SHIPPED)
        .count()
        == 6
    )


# ---- address check


def test_failed_address_check_refuses_purchase_with_easypost_message(
    packed, easypost, user, easypost_carrier
):
    from fulfillment.postage.addresses import AddressCheckFailed

    CarrierAccount.objects.filter(carrier=easypost_carrier).update(
        verify_addresses=True
    )
    [shipment] = packed(1)
    order = shipment.order
    order.ship_address1 = "1 Nowhere Lane"
    order.save(update_fields=["ship_address1"])
    postage = ShipmentPostage.objects.get(shipment=shipment)
    with pytest.raises(AddressCheckFailed, match="Address not found"):
        shipment_postage_buy(
            shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
        )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKED
    assert easypost.buys == {}
    assert OrderEvent.objects.filter(
        order=order, message__contains="Address check failed"
    ).exists()


def test_passed_address_check_buys(packed, easypost, user, easypost_carrier):
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(
        verify_addresses=True
    )
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    assert easypost.count("POST", "/v2/addresses/create_and_verify") == 1
    assert sum(easypost.buys.values()) == 1
