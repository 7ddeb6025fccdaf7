"""The order's postage wish (set by a rule at intake, or by staff) picks the
rate before the location's preference: its carrier + service, else its rate
preference; a carrier + service EasyPost did not offer falls back, and says
so on the postage and the order's timeline."""

import pytest

from fulfillment.models.postage import LocationPostage, RateChoice, ShipmentPostage
from fulfillment.postage.rates import rate_for_order, shipment_rates_fetch
from orders.models import Order, OrderEvent, RatePreference
from tests.orders.rules.support import rule

pytestmark = pytest.mark.django_db

EVERY_US_ORDER = [("ship_country", "is", "US")]


def chosen(shipment) -> dict:
    postage = ShipmentPostage.objects.get(shipment=shipment)
    return postage.rate(postage.rate_id) or {}


def test_rule_set_carrier_and_service_picks_that_rate(
    packed, easypost, postage_location
):
    LocationPostage.objects.filter(location=postage_location).update(
        rate_choice=RateChoice.CHEAPEST
    )
    rule("Priority mail", EVERY_US_ORDER, [("postage_service", "usps priority")])

    [shipment] = packed(1)

    rate = chosen(shipment)
    # Not the location's cheapest (USPS GroundAdvantage 5.49).
    assert (rate["carrier"], rate["service"], rate["rate"]) == (
        "USPS",
        "Priority",
        "7.80",
    )
    assert ShipmentPostage.objects.get(shipment=shipment).error == ""


def test_carrier_and_service_not_offered_falls_back_and_says_why(
    packed, easypost, postage_location
):
    LocationPostage.objects.filter(location=postage_location).update(
        rate_choice=RateChoice.CHEAPEST
    )
    rule("FedEx", EVERY_US_ORDER, [("postage_service", "FedEx / FEDEX_GROUND")])

    [shipment] = packed(1)

    assert chosen(shipment)["rate"] == "5.49"
    postage = ShipmentPostage.objects.get(shipment=shipment)
    order = Order.objects.get(pk=shipment.order_id)
    why = (
        f"EasyPost offered no FedEx FEDEX_GROUND rate, which order {order.number} "
        "asks for; the rate is picked by the location's preference instead."
    )
    assert postage.error == why
    assert OrderEvent.objects.filter(
        order=order, message=f"Shipment {shipment.number}: {why}"
    ).exists()


def test_order_rate_preference_wins_over_a_person_picks(
    packed, easypost, postage_location
):
    # The location leaves the rate to a person; the rule asks for the cheapest.
    assert LocationPostage.objects.get(location=postage_location).rate_choice == ""
    rule("Cheapest", EVERY_US_ORDER, [("rate_preference", "cheapest")])

    [shipment] = packed(1)

    assert chosen(shipment)["rate"] == "5.49"


def test_staff_set_postage_applies_when_rates_are_fetched_again(
    packed, easypost, postage_location
):
    LocationPostage.objects.filter(location=postage_location).update(
        rate_choice=RateChoice.CHEAPEST
    )
    [shipment] = packed(1)
    assert chosen(shipment)["rate"] == "5.49"
    Order.objects.filter(pk=shipment.order_id).update(
        postage_carrier="UPS", postage_service="NextDayAir"
    )

    postage = shipment_rates_fetch(shipment_id=shipment.pk)

    assert postage.rate(postage.rate_id)["service"] == "NextDayAir"


RATES = [
    {"id": "a", "carrier": "USPS", "service": "Priority", "rate": "7.80"},
    {"id": "b", "carrier": "UPS", "service": "Ground", "rate": "9.10"},
    {"id": "c", "carrier": "UPS", "service": "Ground", "rate": "8.50"},
]


def test_cheapest_of_several_matching_rates_without_location_settings():
    order = Order(number="SO-1", postage_carrier="ups", postage_service="GROUND")

    assert rate_for_order(RATES, order=order, settings=None) == (RATES[2], "")


def test_no_wish_no_settings_leaves_the_rate_to_a_person():
    order = Order(number="SO-1")
    assert rate_for_order(RATES, order=order, settings=None) == (None, "")


def test_missing_service_falls_back_to_the_orders_own_preference():
    order = Order(
        number="SO-1",
        postage_carrier="DHL",
        postage_service="Express",
        rate_preference=RatePreference.CHEAPEST,
    )

    rate, why = rate_for_order(RATES, order=order, settings=None)

    assert rate == RATES[0]
    assert why.endswith("the rate is picked by its rate preference instead.")
