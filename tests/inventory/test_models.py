import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inventory.models import StockLevel
from tests.factories import LocationFactory, ProductFactory, StockLevelFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("on_hand", "allocated"),
    [(5, 6), (0, 1), (3, -1), (-1, 0)],
    ids=[
        "allocated-above-on-hand",
        "allocated-without-stock",
        "negative-allocated",
        "negative-on-hand",
    ],
)
def test_stock_level_constraints_refuse_impossible_rows(on_hand, allocated):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevelFactory(on_hand=on_hand, allocated=allocated)
    assert StockLevel.objects.count() == 0


@pytest.mark.django_db
def test_stock_level_accepts_fully_allocated_stock():
    level = StockLevelFactory(on_hand=4, allocated=4)
    assert level.available == 0


@pytest.mark.django_db
def test_stock_level_is_unique_per_product_and_location():
    product, location = ProductFactory(), LocationFactory()
    StockLevelFactory(product=product, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevelFactory(product=product, location=location)


@pytest.mark.django_db
def test_location_ships_to_is_a_list_of_countries():
    location = LocationFactory(ships_to=["FR", "DE", "AT"])
    location.refresh_from_db()
    assert [country.name for country in location.ships_to] == [
        "Austria",
        "Germany",
        "France",
    ]
    assert location.can_ship_to("AT")
    assert location.can_ship_to("de")
    assert not location.can_ship_to("US")
    assert LocationFactory(ships_to="").can_ship_to("JP")


@pytest.mark.django_db
def test_location_refuses_unknown_country_codes():
    location = LocationFactory.build(code="X1", name="X", country="XX", ships_to=["ZZ"])
    with pytest.raises(ValidationError) as caught:
        location.full_clean()
    assert set(caught.value.message_dict) == {"country", "ships_to"}
