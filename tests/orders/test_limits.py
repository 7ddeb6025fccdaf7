"""The quick answers an import gets for its cells (`model_value_problem`'s
per-field facts, the address check cached per place) are the same answers
the full checks give."""

from decimal import Decimal

import pytest

from core.limits import model_value_problem, value_problem
from orders.addresses import address_problem_text
from orders.models import Customer, Order, OrderLine

VALUES = [
    "",
    "Plain text",
    "Zoë Ångström 北京",
    "x" * 200,
    "x" * 201,
    "tab\there",
    "line\nbreak",
    "nul\x00",
    "bell\x07",
    "non\xa0breaking space",
    "para\u2029graph",
    "lone \ud800 surrogate",
    "not an e-mail",
    "buyer@example.com",
    0,
    1,
    -1,
    2**31,
    2**31 - 1,
    True,
    Decimal("12.50"),
    Decimal("12.500"),
    Decimal("12.505"),
    Decimal("9999999999.99"),
    Decimal("10000000000"),
    Decimal("-3"),
    Decimal("1E+2"),
    Decimal("NaN"),
]
FIELDS = [
    (Order, "ship_name"),
    (Order, "ship_postcode"),
    (Order, "external_id"),
    (Order, "shipping_amount"),
    (Order, "total"),
    (Customer, "email"),
    (Customer, "name"),
    (OrderLine, "sku"),
    (OrderLine, "quantity"),
    (OrderLine, "unit_price"),
]


@pytest.mark.parametrize(("model", "name"), FIELDS)
def test_quick_answers_match_the_full_check(model, name):
    field = model._meta.get_field(name)
    for value in VALUES:
        try:
            expected = value_problem(field, value)
        except Exception as error:  # noqa: BLE001 - both must fail alike
            expected = type(error)
        try:
            got = model_value_problem(model, name, value)
        except Exception as error:  # noqa: BLE001
            got = type(error)
        assert got == expected, (name, value)
        # Asked again (the facts are now cached): the same answer.
        if not isinstance(expected, type):
            assert model_value_problem(model, name, value) == expected


def test_quick_text_answer_still_refuses_what_does_not_fit():
    assert model_value_problem(Order, "ship_name", "ok") is None
    assert "line break" in model_value_problem(Order, "ship_name", "a\nb")
    assert "NUL" in model_value_problem(Order, "ship_name", "a\x00b")
    assert "characters long" in model_value_problem(Order, "ship_name", "x" * 500)
    assert "refused" in model_value_problem(Customer, "email", "not an e-mail")


def test_address_check_answers_each_place_the_same_from_its_cache():
    good = {
        "ship_country": "US",
        "ship_region": "TX",
        "ship_city": "Austin",
        "ship_postcode": "78701",
        "ship_address1": "1 Main St",
    }
    assert address_problem_text(good) == ""
    assert address_problem_text(dict(good)) == ""
    wrong_zip = {**good, "ship_postcode": "1234"}
    first = address_problem_text(wrong_zip)
    assert "'1234' is not a ZIP code" in first
    assert address_problem_text(dict(wrong_zip)) == first
    # The street is part of the answer: the same place without one differs.
    no_street = {**good, "ship_address1": ""}
    assert "street address is required" in address_problem_text(no_street)
    assert address_problem_text(good) == ""
    assert "is not a country" in address_problem_text({**good, "ship_country": "XX"})
