"""An order's money as the shop means it (orders.money, orders.intake): the
total computed from the lines after their discounts, the order-level
discount, shipping and its discount, tax added or included; a refund of a
line's units at its discounted price."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.intake import intake_hold
from orders.models import Channel, HoldReason
from orders.money import (
    MoneyLine,
    cents,
    line_total_of,
    order_totals,
    refund_amount_of,
    totals_differ,
)

D = Decimal


def totals(lines, **money):
    defaults = {
        "discount_amount": None,
        "shipping_amount": D("0"),
        "shipping_discount": D("0"),
        "tax_amount": D("0"),
        "prices_include_tax": False,
    }
    return order_totals(
        lines=[MoneyLine(D(total), D(discount)) for total, discount in lines],
        **{**defaults, **money},
    )


def test_tax_inclusive_prices_are_not_taxed_again():
    # A Shopify export of a store with VAT-inclusive prices (issue 27):
    # subtotal 3227.00, taxes 420.91, total 3227.00.
    computed = totals(
        [("3227.00", "0")], tax_amount=D("420.91"), prices_include_tax=True
    )

    assert computed.total == D("3227.00")
    assert computed.subtotal == D("3227.00")


def test_tax_on_top_is_added():
    computed = totals([("100.00", "0")], tax_amount=D("8.25"), shipping_amount=D("5"))

    assert computed.total == D("113.25")


def test_line_discounts_are_in_the_line_totals_and_not_taken_twice():
    # Two lines, 10.00 off the first (a line-level discount the shop also
    # counts in the order's discount).
    computed = totals(
        [("90.00", "10.00"), ("50.00", "0")],
        discount_amount=D("10.00"),
        shipping_amount=D("4.95"),
    )

    assert computed.subtotal == D("140.00")
    assert computed.discount_amount == D("10.00")
    assert computed.total == D("144.95")


def test_an_order_level_discount_not_on_the_lines_comes_off_the_merchandise():
    computed = totals(
        [("100.00", "0"), ("50.00", "0")],
        discount_amount=D("15.00"),
        shipping_amount=D("10.00"),
        shipping_discount=D("10.00"),
        tax_amount=D("11.25"),
    )

    assert computed.subtotal == D("135.00")
    assert computed.total == D("146.25")


def test_the_discount_is_the_lines_discounts_when_the_shop_sends_none():
    computed = totals([("8.00", "2.00"), ("5.00", "0.50")])

    assert computed.discount_amount == D("2.50")
    assert computed.total == D("13.00")


def test_merchandise_never_goes_below_zero():
    computed = totals([("5.00", "0")], discount_amount=D("50.00"), shipping_amount=D(3))

    assert computed.subtotal == D("0.00")
    assert computed.total == D("3.00")


def test_a_price_sent_as_total_over_quantity_gives_the_shop_line_total():
    # WooCommerce sends a coupon line's price as total / quantity.
    total = line_total_of(unit_price=D("2.6666666666666665"), quantity=3)

    assert total == D("8.000000")
    assert cents(D("2.6666666666666665")) == D("2.67")


def test_a_line_total_sent_by_the_shop_is_kept_exactly():
    assert line_total_of(
        unit_price=D("10.00"),
        quantity=3,
        discount_amount=D("4.958678"),
        total=D("24.793388"),
    ) == D("24.793388")


def test_totals_differ_by_any_cent():
    assert not totals_differ(computed=D("10.00"), stated=None)
    assert not totals_differ(computed=D("10.00"), stated=D("10.004"))
    assert totals_differ(computed=D("10.00"), stated=D("10.01"))
    assert totals_differ(computed=D("10.00"), stated=D("9.99"))


@given(
    total=st.decimals(min_value=0, max_value=100_000, places=6),
    quantity=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_units_refunded_in_any_parts_add_up_to_the_line_total(total, quantity, data):
    parts = []
    left = quantity
    while left:
        part = data.draw(st.integers(min_value=1, max_value=left))
        parts.append(part)
        left -= part

    refunded, already = D("0"), 0
    for part in parts:
        amount = refund_amount_of(
            line_total=total, quantity=quantity, already=already, refunding=part
        )
        # Each part is worth its share of the line, within a cent.
        share = total * part / quantity
        assert abs(amount - share) <= D("0.01")
        refunded += amount
        already += part

    assert refunded == total.quantize(D("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize(
    ("stated", "address", "payment", "expected"),
    [
        (None, "", "paid", None),
        (None, "", "", None),
        (D("9.99"), "", "paid", HoldReason.TOTALS_DIFFER),
        (None, "no such street", "paid", HoldReason.ADDRESS_CHECK),
        (None, "", "pending", HoldReason.PAYMENT),
        (None, "", "partially_paid", HoldReason.PAYMENT),
        (None, "", "partially_refunded", None),
        (D("9.99"), "no such street", "pending", HoldReason.TOTALS_DIFFER),
        (None, "no such street", "pending", HoldReason.ADDRESS_CHECK),
    ],
)
def test_what_an_order_comes_in_on_hold_for(stated, address, payment, expected):
    channel = Channel(name="Shop")  # the default payment states

    hold = intake_hold(
        channel=channel,
        address_problem=address,
        computed_total=D("10.00"),
        stated_total=stated,
        financial_status=payment,
        currency="EUR",
    )

    assert (hold.reason if hold else None) == expected
    if stated is not None:
        assert hold.data["stated_total"] == "9.99"
        assert hold.data["computed_total"] == "10.00"
        assert "9.99 EUR" in hold.note and "10.00 EUR" in hold.note
    if hold is not None and payment == "pending":
        # Every reason is named, the first one holds the order.
        assert "pending" in hold.note
        assert (
            hold.reason == HoldReason.PAYMENT
            or HoldReason.PAYMENT in (hold.data["also"])
        )


def test_a_channel_taking_pending_orders_in_holds_none_for_payment():
    channel = Channel(name="Shop", accepted_financial_statuses=["paid", "pending"])

    assert channel.accepts_payment("pending")
    assert not channel.accepts_payment("voided")
    assert channel.accepts_payment("")
