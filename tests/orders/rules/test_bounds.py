"""Every rule value is bounded by the schema the engine uses (issue 28.1):
days within two years, counts and amounts within the columns they are counted
from, the digits 0-9 only; the form refuses anything else with a clear
message, and whatever the schema accepts the engine runs."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orders.models import Order, Rule, RuleAction, RuleCondition
from orders.rules.engine import condition_compile
from orders.rules.schema import (
    DELIVERY_DAYS_MAX,
    OPERATORS,
    RuleSchemaError,
    action_parse,
    condition_parse,
    count_limits,
)
from tests.orders.rules.test_admin import form_data
from tests.orders.rules.test_engine_batch import fact

Field = RuleCondition.Field
LARGEST_INT = 2147483647  # PostgreSQL's integer: an order line's quantity, grams


def test_the_limits_are_the_columns_and_two_years():
    assert DELIVERY_DAYS_MAX == 730
    assert count_limits() == {
        Field.ITEM_COUNT: LARGEST_INT,
        Field.WEIGHT: LARGEST_INT,
        Field.DELIVERY_WITHIN: 730,
    }


@pytest.mark.parametrize(
    ("field", "value", "parsed"),
    [
        (Field.DELIVERY_WITHIN, "0", 0),
        (Field.DELIVERY_WITHIN, "730", 730),
        (Field.ITEM_COUNT, "2147483647", LARGEST_INT),
        (Field.WEIGHT, " 0012 ", 12),
        (Field.TOTAL, "9999999999.99", Decimal("9999999999.99")),
        (Field.TOTAL, ".5", Decimal("0.5")),
        (Field.TOTAL, "250", Decimal("250")),
    ],
)
def test_values_up_to_the_bounds_are_taken(field, value, parsed):
    operator = OPERATORS[field][0][0]
    assert condition_parse(field=field, operator=operator, value=value).value == parsed


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            Field.DELIVERY_WITHIN,
            "3000000",
            "takes a number of days from 0 to 730 (two years), written with the "
            "digits 0-9, not '3000000'.",
        ),
        (Field.DELIVERY_WITHIN, "731", "from 0 to 730"),
        (Field.DELIVERY_WITHIN, "-1", "from 0 to 730"),
        (
            Field.ITEM_COUNT,
            "²",
            "compares with a whole number such as 3, from 0 to 2147483647, written "
            "with the digits 0-9, not '²'.",
        ),
        (Field.ITEM_COUNT, "١٢", "written with the digits 0-9, not '١٢'"),
        (Field.ITEM_COUNT, "2147483648", "from 0 to 2147483647"),
        (Field.ITEM_COUNT, "3.5", "whole number"),
        (Field.WEIGHT, "9" * 400, "from 0 to 2147483647"),
        (Field.TOTAL, "1e3", "written with the digits 0-9 and a point"),
        (Field.TOTAL, "١٠٠", "written with the digits 0-9 and a point"),
        (Field.TOTAL, "10000000000", "the most it can be is 9999999999.99"),
        (Field.TOTAL, "9.999", "more than 2 decimal places"),
        (Field.TOTAL, "NaN", "such as 250 or 99.90"),
    ],
)
def test_values_past_the_bounds_are_refused_with_what_to_write(field, value, message):
    operator = OPERATORS[field][0][0]
    with pytest.raises(RuleSchemaError) as refused:
        condition_parse(field=field, operator=operator, value=value)
    assert message in str(refused.value)


@pytest.mark.parametrize("value", ["²", "١", "1.0", "-1", "3"])
def test_priority_takes_its_names_or_its_own_digits(value):
    with pytest.raises(RuleSchemaError, match="Normal, High or Urgent"):
        action_parse(kind=RuleAction.Kind.PRIORITY, value=value)
    assert action_parse(kind=RuleAction.Kind.PRIORITY, value="2").value == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "action", "message"),
    [
        (
            ("delivery_within", "lte", "3000000"),
            None,
            "“Requested delivery within (days)” takes a number of days from 0 to "
            "730 (two years), written with the digits 0-9, not &#x27;3000000&#x27;.",
        ),
        (
            ("item_count", "gte", "²"),
            None,
            "“Item count (units)” compares with a whole number such as 3, from 0 "
            "to 2147483647, written with the digits 0-9, not &#x27;²&#x27;.",
        ),
        (("weight", "gt", "2147483648"), None, "from 0 to 2147483647"),
        (("total", "gte", "12345678901"), None, "the most it can be is"),
        (None, ("priority", "²", ""), "Set priority takes Normal, High or Urgent"),
    ],
)
def test_the_rule_form_refuses_them_clearly(admin_client, condition, action, message):
    response = admin_client.post(
        reverse("admin:orders_rule_add"),
        form_data(
            [condition] if condition else [("total", "gte", "1")],
            [action] if action else [("add_tag", "x", "")],
        ),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Rule.objects.exists()


NUMBER_FIELDS = [Field.TOTAL, Field.ITEM_COUNT, Field.WEIGHT, Field.DELIVERY_WITHIN]
SOME_DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(NUMBER_FIELDS),
    value=st.one_of(
        st.text(max_size=30),
        st.integers(min_value=-5, max_value=10**12).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
    ),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    delivery=st.none() | SOME_DAYS,
)
@example(
    field=Field.DELIVERY_WITHIN, value="3000000", today=date.today(), delivery=None
)
@example(field=Field.ITEM_COUNT, value="²", today=date.today(), delivery=None)
def test_whatever_the_schema_takes_the_engine_runs(field, value, today, delivery):
    """A number condition is parsed within its bounds or refused with a
    RuleSchemaError (never a ValueError), and what is parsed compiles and
    checks any order without raising."""
    for operator in OPERATORS[field][0]:
        try:
            condition = condition_parse(field=field, operator=operator, value=value)
        except RuleSchemaError as refused:
            assert str(refused).startswith("“")
            continue
        number = condition.value
        if field == Field.TOTAL:
            assert Decimal(0) <= number < Decimal("1e10")
        else:
            assert 0 <= number <= count_limits()[field]
        test = condition_compile(condition, today)
        order = fact(1, total="12.50")
        order.delivery_date, order.items, order.weight = delivery, 3, 1200
        assert test(order) in (True, False)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(RuleAction.Kind.values),
    value=st.text(max_size=60),
    note=st.text(max_size=20),
)
def test_actions_are_taken_or_refused_never_raised(kind, value, note):
    try:
        action = action_parse(kind=kind, value=value, note=note, location_id=1)
    except RuleSchemaError:
        return
    if kind == RuleAction.Kind.PRIORITY:
        assert action.value in Order.Priority.values
    if kind == RuleAction.Kind.ADD_TAG:
        assert 0 < len(action.value) <= 50


@settings(max_examples=60, deadline=None)
@given(days=st.integers(min_value=0, max_value=DELIVERY_DAYS_MAX))
def test_every_day_the_form_takes_is_a_date(days):
    today = date(9997, 12, 31)  # near the end of dates: still no overflow
    condition = condition_parse(
        field=Field.DELIVERY_WITHIN, operator="lte", value=str(days)
    )
    order = fact(1, total="1")
    order.delivery_date = today + timedelta(days=1)
    assert condition_compile(condition, today)(order) is (days >= 1)
