"""How the import reads money it is not told outright: a Shopify export's
tax-inclusive prices from its figures (orders.importing.shopify), and the
OMS format's optional money, payment, note and line columns."""

import pytest

from orders.importing.services import orders_import
from orders.importing.shopify import shopify_values_read, tax_included_of
from orders.models import Order
from tests import factories
from tests.orders.test_import import HEADER, csv_bytes, row


def figures(subtotal, shipping, taxes, total, **more):
    return {
        "subtotal": subtotal,
        "shipping_amount": shipping,
        "tax_amount": taxes,
        "total": total,
        **more,
    }


@pytest.mark.parametrize(
    ("values", "included"),
    [
        # Subtotal + Shipping = Total while Taxes > 0: the tax is inside.
        (figures("3227.00", "0.00", "420.91", "3227.00"), True),
        (figures("949.00", "150.00", "123.78", "1099.00"), True),
        # Subtotal + Shipping + Taxes = Total: the tax is on top.
        (figures("0.50", "0.00", "0.05", "0.55"), False),
        # No tax, or figures that add up neither way (duties, a tip): unknown.
        (figures("141.62", "0.00", "0.00", "141.62"), None),
        (figures("655.74", "34.24", "38.36", "839.82"), None),
        (figures("", "0.00", "1.00", "10.00"), None),
        # A file re-saved with decimal commas.
        (figures("3227,00", "0,00", "420,91", "3227,00", comma=True), True),
    ],
)
def test_the_figures_tell_whether_prices_include_tax(values, included):
    comma = values.pop("comma", False)
    assert tax_included_of(values, decimal_comma=comma) is included


def test_orders_whose_figures_say_nothing_take_the_files_answer():
    inside = figures("228.00", "0.00", "41.11", "228.00")
    no_tax = figures("141.62", "0.00", "0.00", "141.62")
    orders = [inside, no_tax]

    shopify_values_read(orders)

    assert [o["prices_include_tax"] for o in orders] == ["true", "true"]


def test_a_file_whose_orders_disagree_leaves_the_silent_ones_without_tax_inside():
    inside = figures("228.00", "0.00", "41.11", "228.00")
    on_top = figures("0.50", "0.00", "0.05", "0.55")
    no_tax = figures("141.62", "0.00", "0.00", "141.62")
    orders = [inside, on_top, no_tax]

    shopify_values_read(orders)

    assert [o["prices_include_tax"] for o in orders] == ["true", "false", "false"]


def test_a_province_code_the_rules_do_not_know_gives_way_to_its_name():
    bangkok = {"ship_country": "TH", "ship_region": "TH-10"}
    bangkok["ship_region_name"] = "Bangkok"
    new_york = {"ship_country": "US", "ship_region": "NY"}
    new_york["ship_region_name"] = "New York"

    shopify_values_read([bangkok, new_york])

    assert (bangkok["ship_region"], new_york["ship_region"]) == ("Bangkok", "NY")


@pytest.mark.django_db
def test_the_oms_format_reads_money_payment_note_and_lines_that_do_not_ship():
    factories.ChannelFactory(code="web", name="Web shop")
    factories.ProductFactory(sku="TSH-BLK-M", name="T-shirt")
    header = [
        *HEADER,
        "tax_amount",
        "discount_amount",
        "discount_codes",
        "total",
        "prices_include_tax",
        "financial_status",
        "note",
        "line_name",
        "line_discount",
        "requires_shipping",
    ]
    order = {
        "discount_amount": "5.00",
        "discount_codes": "SPRING, VIP",
        "total": "33.95",
        "tax_amount": "4.00",
        "prices_include_tax": "yes",
        "financial_status": "pending",
        "note": "Leave at the door",
    }
    data = csv_bytes(
        [
            row(price="12.00", quantity="2", line_discount="2.00", **order),
            row(
                sku="",
                price="10.00",
                line_name="Gift card",
                requires_shipping="no",
                **order,
            ),
        ],
        header=header,
    )

    result = orders_import(data=data, actor=None)

    assert result.ok and result.written, result.problems
    stored = Order.objects.get(external_id="A-1")
    # 2 × 12.00 − 2.00 + 10.00 − 3.00 (the code's rest) + 4.95 shipping;
    # the 4.00 tax is inside the prices. Unpaid: held, awaiting payment.
    assert (
        str(stored.subtotal),
        str(stored.discount_amount),
        str(stored.total),
        str(stored.stated_total),
        stored.discount_codes,
        stored.prices_include_tax,
        stored.financial_status,
        stored.hold_reason,
        stored.note,
    ) == (
        "29.00",
        "5.00",
        "33.95",
        "33.95",
        ["SPRING", "VIP"],
        True,
        "pending",
        "payment",
        "Leave at the door",
    )
    lines = sorted(
        (line.name, line.requires_shipping, str(line.line_total))
        for line in stored.lines.all()
    )
    assert lines == [("Gift card", False, "10.00"), ("T-shirt", True, "22.00")]
