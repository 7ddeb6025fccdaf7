"""Every value the database would refuse is refused by the check first, with
its row and column (the write would crash otherwise); values at the limit
are stored exactly."""

from decimal import Decimal

import pytest

from core.limits import value_problem
from orders.models import Customer, Order, OrderLine
from tests.orders.test_import import (  # noqa: F401
    HEADER,
    SHOPIFY,
    catalogue,
    csv_bytes,
    nothing_written,
    row,
    run,
)

pytestmark = pytest.mark.usefixtures("catalogue")

SHOPIFY_HEADER = SHOPIFY.read_bytes().decode().split("\n", 1)[0].strip().split(",")


# A NUL in the first kilobytes marks a binary file; the checks below are
# for values deeper in a text file.
PADDED_HEADER = ["note", *HEADER]
PADDING = "x" * 5000


def limit(model, name: str) -> int:
    return model._meta.get_field(name).max_length


OVER_LIMIT = [
    (
        "long-reference",
        row(ref="R" * (limit(Order, "external_id") + 1)),
        "row 2, column order_ref: 'RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR'… is 65 "
        "characters long; at most 64 fit. Shorten it.",
    ),
    (
        "long-ship-name",
        row(ship_name="N" * (limit(Order, "ship_name") + 1)),
        "row 2, column ship_name: 'NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN'… is 201 "
        "characters long; at most 200 fit. Shorten it.",
    ),
    (
        "long-customer-name",
        row(customer_name="C" * (limit(Customer, "name") + 1)),
        "row 2, column customer_name: 'CCCC",
    ),
    (
        "long-email",
        row(customer_email="a" * 250 + "@example.com"),
        "row 2, column customer_email: 'aaaa",
    ),
    (
        "long-city",
        row(ship_city="C" * (limit(Order, "ship_city") + 1)),
        "row 2, column ship_city:",
    ),
    (
        "long-postcode",
        row(ship_postcode="9" * (limit(Order, "ship_postcode") + 1)),
        "row 2, column ship_postcode:",
    ),
    (
        "long-sku",
        row(sku="S" * (limit(OrderLine, "sku") + 1)),
        "row 2, column sku: 'SSSS",
    ),
    (
        "price-ten-billion",
        row(price="10000000000"),
        "row 2, column unit_price: 10000000000 is too large: the most it can be is "
        "9999999999.99.",
    ),
    (
        "price-exponent",
        row(price="1e10"),
        "row 2, column unit_price: 1E+10 is too large",
    ),
    (
        "shipping-ten-billion",
        row(shipping_amount="10000000000.00"),
        "row 2, column shipping_amount: 10000000000.00 is too large",
    ),
    (
        "quantity-above-integer-range",
        row(quantity="2147483648"),
        "row 2, column quantity: 2147483648 is too large: the most it can be is "
        "2147483647.",
    ),
    (
        "quantity-huge",
        row(quantity="9" * 5000),
        "row 2, column quantity: '9999999999999999999999999999999999999999'… is too "
        "large",
    ),
    (
        "quantity-unicode-digits",
        row(quantity="١٢"),
        "row 2, column quantity: '١٢' is not a whole number above zero.",
    ),
    (
        "subtotal-overflow",
        row(price="9999999999.99", quantity="2"),
        "row 2, column unit_price: the order's lines add up to 19999999999.98 "
        "(quantity × unit price): the most it can be is 9999999999.99. Split the "
        "order into smaller ones.",
    ),
    (
        "total-overflow",
        row(price="9999999999.99", shipping_amount="1.00"),
        "row 2, column unit_price: the order's total is 10000000000.99",
    ),
    (
        "nul-in-city",
        row(ship_city="Aus\x00tin"),
        "row 2, column ship_city: contains a NUL character (U+0000), which cannot "
        "be stored; remove it",
    ),
    (
        "nul-in-sku",
        row(sku="TSH\x00"),
        "row 2, column sku: contains a NUL character",
    ),
    (
        "nul-in-reference",
        row(ref="A\x00-1"),
        "row 2, column order_ref: contains a NUL character",
    ),
    (
        "line-break-in-address",
        row(ship_address1="1 Main St\nApt 2"),
        # The quoted value runs over two lines of the file, in one row of it
        # (as a spreadsheet shows it).
        "row 2, column ship_address1: contains a line break (U+000A), but this "
        "field is one line of text",
    ),
    (
        "tab-in-name",
        row(ship_name="Ada\tLovelace"),
        "row 2, column ship_name: contains a tab (U+0009)",
    ),
    (
        "escape-character",
        row(ship_city="Austin\x1b[31m"),
        "row 2, column ship_city: contains an invisible control character "
        "(U+001B); remove it.",
    ),
    (
        "far-past-date",
        row(placed_at="0001-01-01T00:00:00+05:00"),
        "row 2, column placed_at: 0001-01-01T00:00:00+05:00 is out of the range",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "message"), [c[1:] for c in OVER_LIMIT], ids=[c[0] for c in OVER_LIMIT]
)
def test_value_the_database_would_refuse_is_reported_and_nothing_written(bad, message):

    good = row(ref="B-1", customer_email="grace@example.com")

    result = run(csv_bytes([{**bad, "note": PADDING}, good], header=PADDED_HEADER))

    assert not result.written
    assert any(str(problem).startswith(message) for problem in result.problems), [
        str(p) for p in result.problems
    ]
    assert nothing_written()


@pytest.mark.django_db
def test_preview_refuses_what_the_write_would_refuse():
    data = csv_bytes([row(ship_name="N" * 201)])

    preview = run(data, dry_run=True)

    assert preview.summary().startswith("would import 0 orders (0 lines)")
    assert [str(p) for p in preview.problems][0].startswith("row 2, column ship_name")


@pytest.mark.django_db
def test_values_at_every_limit_are_stored_exactly():
    at_limit = row(
        ref="R" * limit(Order, "external_id"),
        customer_name="C" * limit(Customer, "name"),
        customer_email="a" * 64 + "@" + "b" * 60 + ".example.com",
        ship_name="Zoë" * (limit(Order, "ship_name") // 3) + "ë" * 2,
        ship_city="C" * limit(Order, "ship_city"),
        ship_postcode="9" * limit(Order, "ship_postcode"),
        quantity="1",
        price="9999999999.99",
        shipping_amount="0",
    )

    result = run(csv_bytes([at_limit]))

    assert result.written, [str(p) for p in result.problems]
    order = Order.objects.get()
    assert order.external_id == at_limit["order_ref"]
    assert order.ship_name == at_limit["ship_name"] and len(order.ship_name) == 200
    assert order.ship_city == at_limit["ship_city"]
    assert order.total == Decimal("9999999999.99")
    assert order.customer.name == at_limit["customer_name"]


@pytest.mark.django_db
def test_largest_quantity_is_stored():
    result = run(csv_bytes([row(quantity="2147483647", price="0.00")]))

    assert result.written, [str(p) for p in result.problems]
    assert OrderLine.objects.get().quantity == 2147483647


@pytest.mark.django_db
def test_shopify_values_are_checked_against_the_same_limits():
    from orders.models import Channel

    rows = [
        {
            "Name": "#2001",
            "Email": "ada@example.com",
            "Shipping Name": "N" * 201,
            "Shipping Address1": "1 Main St",
            "Shipping City": "Austin",
            "Shipping Country": "US",
            "Shipping Zip": "'0" + "1" * 20,
            "Lineitem sku": "TSH-BLK-M",
            "Lineitem quantity": "1",
            "Lineitem price": "10000000000.00",
            "Currency": "USD",
            "Created at": "2026-11-19 15:23:45 +0000",
        }
    ]
    data = csv_bytes(rows, header=SHOPIFY_HEADER)

    result = run(data, channel=Channel.objects.get(code="web"))

    problems = [str(p) for p in result.problems]
    assert any(p.startswith("row 2, column Shipping Name: 'NNNN") for p in problems)
    assert any(p.startswith("row 2, column Shipping Zip: '01111") for p in problems)
    assert any(
        p.startswith("row 2, column Lineitem price: 10000000000.00 is too large")
        for p in problems
    ), problems
    assert nothing_written()


def test_integer_limits_are_postgresql_limits_on_every_database():
    quantity = OrderLine._meta.get_field("quantity")
    priority = Order._meta.get_field("priority")

    assert value_problem(quantity, 2147483647) is None
    assert "too large" in value_problem(quantity, 2147483648)
    assert "too small" in value_problem(quantity, -1)
    assert "too large" in value_problem(priority, 32768)
