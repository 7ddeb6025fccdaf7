"""The CSV import's writer stores what issue 27 adds, read from any format that
names columns for it (the platform formats map their own columns): discounts,
line totals, tax-inclusive prices, the stated total (held when it differs),
the payment state (held while unpaid), notes, lines that do not ship, a
customer known only by phone."""

import dataclasses
from decimal import Decimal

import pytest
from django.db import transaction

from orders.importing.formats import OMS
from orders.importing.reader import read_table
from orders.importing.resolve import orders_resolve
from orders.importing.result import ImportResult
from orders.importing.services import held_for_money
from orders.importing.validate import parse_table
from orders.importing.write import orders_write
from orders.models import Customer, HoldReason, Order, OrderEvent, OrderStatus
from tests.orders.test_import import (  # noqa: F401 - fixture
    HEADER,
    catalogue,
    csv_bytes,
    row,
)

D = Decimal
# The OMS columns, and a column for each field a platform's format may name.
EXTRA = {
    "discount_amount": "discount_amount",
    "shipping_discount": "shipping_discount",
    "total": "total",
    "prices_include_tax": "prices_include_tax",
    "financial_status": "financial_status",
    "discount_codes": "discount_codes",
    "note": "note",
    "note_attributes": "note_attributes",
    "line_discount": "line_discount",
    "line_total": "line_total",
    "requires_shipping": "requires_shipping",
    "line_external_id": "line_id",
    "line_name": "line_name",
}
WIDE = dataclasses.replace(OMS, columns={**OMS.columns, **EXTRA})
WIDE_HEADER = [*HEADER, "tax_amount", "customer_phone", *EXTRA.values()]


def imported(rows, catalogue):  # noqa: F811 - the fixture's products
    table = read_table(csv_bytes(rows, header=WIDE_HEADER), max_bytes=10**7)
    parsed = parse_table(table, WIDE)
    result = ImportResult()
    orders_resolve(orders=parsed.orders, channel=None, format_code="oms", result=result)
    problems = [p for o in parsed.orders for p in o.problems] + parsed.problems
    assert not problems, [str(p) for p in problems]
    held = held_for_money(parsed.orders)
    with transaction.atomic():
        ids, _statuses = orders_write(
            orders=parsed.orders, actor=None, source="test file", settle=True
        )
    return {o.external_id: o for o in Order.objects.filter(pk__in=ids)}, held


def test_money_notes_and_lines_that_do_not_ship_are_stored(catalogue):  # noqa: F811
    first = row(
        "M-1",
        price="20.00",
        quantity="3",
        shipping_amount="10.00",
        shipping_discount="10.00",
        tax_amount="7.66",
        prices_include_tax="yes",
        discount_amount="12.00",
        discount_codes="SUMMER, VIP",
        total="98.00",
        financial_status="paid",
        note="Leave at the door",
        note_attributes="Gift message: Happy birthday\nWrap: yes",
        line_discount="12.00",
        line_total="48.00",
        line_id="li-1",
    )
    gift = {
        **first,
        "sku": "",
        "quantity": "1",
        "unit_price": "50.00",
        "line_name": "Gift card",
        "requires_shipping": "no",
        "line_id": "li-2",
        "line_discount": "",
        "line_total": "",
    }
    rows = [first, gift]

    orders, held = imported(rows, catalogue)

    order = orders["M-1"]
    assert held == []
    assert (order.subtotal, order.discount_amount, order.total) == (
        D("98.00"),
        D("12.00"),
        D("98.00"),
    )
    assert order.prices_include_tax and order.stated_total == D("98.00")
    assert order.discount_codes == ["SUMMER", "VIP"]
    assert order.note == "Leave at the door"
    assert order.note_attributes == [
        {"name": "Gift message", "value": "Happy birthday"},
        {"name": "Wrap", "value": "yes"},
    ]
    shipped, gift = order.lines.order_by("pk")
    assert (shipped.discount_amount, shipped.total, shipped.external_id) == (
        D("12.00"),
        D("48.00"),
        "li-1",
    )
    assert (gift.product, gift.requires_shipping, gift.name) == (
        None,
        False,
        "Gift card",
    )
    assert order.status == OrderStatus.BACKORDERED  # no stock in the catalogue
    assert not gift.allocations.exists()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"total": "14.96"}, HoldReason.TOTALS_DIFFER),
        ({"financial_status": "pending"}, HoldReason.PAYMENT),
    ],
)
def test_a_total_that_differs_or_an_unpaid_order_is_imported_on_hold(
    catalogue,  # noqa: F811
    changes,
    reason,
):
    orders, held = imported([row("H-1", **changes)], catalogue)

    order = orders["H-1"]
    assert (order.status, order.hold_reason) == (OrderStatus.ON_HOLD, reason)
    assert [external_id for _, external_id, _ in held] == ["H-1"]
    event = order.events.get(kind=OrderEvent.Kind.HELD)
    if reason == HoldReason.TOTALS_DIFFER:
        assert (event.data["stated_total"], event.data["computed_total"]) == (
            "14.96",
            "14.95",
        )
    assert not order.lines.get().allocations.exists()


def test_an_order_of_gift_cards_only_is_imported_complete(catalogue):  # noqa: F811
    gift = {"sku": "", "line_name": "Gift card", "requires_shipping": "false"}

    orders, _ = imported([row("G-1", shipping_amount="0", **gift)], catalogue)

    assert orders["G-1"].status == OrderStatus.DELIVERED


def test_a_customer_with_only_a_phone_is_found_by_it(catalogue):  # noqa: F811
    phone_only = {"customer_email": "", "customer_phone": "+1 512 555 0100"}

    orders, _ = imported(
        [row("P-1", **phone_only), row("P-2", **phone_only)], catalogue
    )

    assert orders["P-1"].customer_id == orders["P-2"].customer_id
    customer = Customer.objects.get(pk=orders["P-1"].customer_id)
    assert (customer.email, customer.phone) == ("", "+1 512 555 0100")
    again, _ = imported([row("P-3", **phone_only)], catalogue)
    assert again["P-3"].customer_id == customer.pk


def test_a_price_with_many_decimals_is_rounded(catalogue):  # noqa: F811
    orders, _ = imported(
        [row("R-1", price="2.6666666666666665", quantity="3", shipping_amount="0")],
        catalogue,
    )

    line = orders["R-1"].lines.get()
    assert (line.unit_price, line.total) == (D("2.67"), D("8.00"))
    assert orders["R-1"].total == D("8.00")
