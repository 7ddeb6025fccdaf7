"""Countries by code or name, addresses checked against their country's
rules, and addresses printed in the destination's own format."""

import pytest

from orders.addresses import (
    address_problems,
    country_code,
    location_address,
    postal_address,
)


def address(**changes):
    values = {
        "ship_name": "Maria Schmidt",
        "ship_company": "",
        "ship_address1": "Torstraße 12",
        "ship_address2": "",
        "ship_city": "Berlin",
        "ship_region": "",
        "ship_postcode": "10119",
        "ship_country": "DE",
    }
    return values | changes


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("GE", "GE"),  # a code stays the country it names: Georgia
        ("United States", "US"),
        ("USA", "US"),
        ("United Kingdom", "GB"),
        ("XX", ""),
        ("Narnia", ""),
        ("", ""),
    ],
)
def test_country_code_reads_codes_and_names(text, code):
    assert country_code(text) == code


def test_address_that_meets_its_countrys_rules_has_no_problems():
    assert address_problems(address()) == {}


def test_postcode_in_the_wrong_form_is_a_problem_on_the_postcode():
    problems = address_problems(address(ship_postcode="1011"))

    assert problems == {
        "ship_postcode": "'1011' is not a postcode in Germany (like 26133 or 53225)."
    }


def test_us_address_needs_a_state_and_a_zip_code():
    problems = address_problems(
        address(ship_country="US", ship_city="Austin", ship_postcode="")
    )

    assert set(problems) == {"ship_region", "ship_postcode"}
    assert "A state is required" in problems["ship_region"]
    assert "A ZIP code is required" in problems["ship_postcode"]


def test_zip_code_of_another_state_is_refused():
    texas = address(ship_country="US", ship_city="Austin", ship_region="TX")

    assert address_problems(texas | {"ship_postcode": "78701"}) == {}
    assert set(address_problems(texas | {"ship_postcode": "10001"})) == {
        "ship_postcode"
    }


@pytest.mark.parametrize(
    ("country", "region", "postcode", "problem"),
    [
        (
            "US",
            "TX",
            "23401",
            "ZIP 23401 belongs to VA, not TX: correct the ZIP code or the state.",
        ),
        (
            "US",
            "Texas",
            "10001-1234",
            "ZIP 10001-1234 belongs to NY, not TX: correct the ZIP code or the state.",
        ),
        (
            "CA",
            "British Columbia",
            "M5V 2T6",
            "Postcode M5V 2T6 belongs to ON, not BC: correct the postcode or the "
            "province.",
        ),
        (
            "JP",
            "Osaka",
            "100-0001",
            "Postcode 100-0001 belongs to Tokyo, not Osaka: correct the postcode "
            "or the prefecture.",
        ),
    ],
    ids=["us", "us-state-name-zip4", "canada", "japan"],
)
def test_postcode_of_another_region_names_the_region_it_belongs_to(
    country, region, postcode, problem
):
    place = address(
        ship_country=country,
        ship_region=region,
        ship_city="Springfield",
        ship_postcode=postcode,
    )

    assert address_problems(place) == {"ship_postcode": problem}


def test_postcode_of_no_region_is_still_not_a_postcode():
    texas = address(ship_country="US", ship_city="Austin", ship_region="TX")

    assert address_problems(texas | {"ship_postcode": "00000"}) == {
        "ship_postcode": "'00000' is not a ZIP code in United States (like 75000 "
        "or 73344)."
    }


def test_unknown_country_is_a_problem_on_the_country():
    assert set(address_problems(address(ship_country="XX"))) == {"ship_country"}


def test_german_address_prints_postcode_before_city_and_the_country_name():
    printed = postal_address(address(ship_address2="Hinterhaus"))

    assert printed.lines == ("Torstraße 12", "Hinterhaus", "10119 Berlin")
    assert (printed.country, printed.country_code) == ("Germany", "DE")


def test_us_address_prints_city_state_and_zip_on_one_line():
    printed = postal_address(
        address(
            ship_country="US",
            ship_address1="400 Congress Ave",
            ship_address2="Suite 200",
            ship_city="Austin",
            ship_region="TX",
            ship_postcode="78701",
        )
    )

    assert printed.lines == ("400 Congress Ave", "Suite 200", "Austin, TX 78701")
    assert printed.country == "United States"


def test_japanese_address_in_japanese_prints_in_the_local_order():
    printed = postal_address(
        address(
            ship_country="JP",
            ship_address1="丸の内1-1",
            ship_city="千代田区",
            ship_region="東京都",
            ship_postcode="100-0001",
        )
    )

    assert printed.lines == ("〒100-0001", "東京都", "千代田区", "丸の内1-1")


def test_field_the_countrys_format_leaves_out_is_still_printed():
    printed = postal_address(address(ship_region="Berlin-Mitte"))

    assert printed.lines == ("Torstraße 12", "10119 Berlin", "Berlin-Mitte")


def test_order_country_object_formats_like_its_code(place_order, product, stock):
    stock(product, 1)
    order = place_order([(product, 1)], country="DE")

    assert postal_address(order).lines[-1] == "10115 Berlin"
    assert postal_address(order).country == "Germany"


def test_location_address_prints_its_country_once():
    printed = location_address(
        name="Reno warehouse",
        address="1200 Logistics Way\nReno, NV 89502\nUnited States",
        country="US",
    )

    assert printed.lines == ("1200 Logistics Way", "Reno, NV 89502")
    assert printed.country == "United States"
