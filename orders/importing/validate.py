"""Group rows into orders and check every value, collecting every problem.

Pure Python over strings: nothing here touches the database, so a whole file
is checked before anything is written. `resolve` then looks up channels,
products, customers and already imported orders in a few set-based queries.
"""

import operator
import re
from collections.abc import Callable, Iterator, Mapping, MutableSequence
from datetime import datetime

from core.limits import shown
from orders.addresses import address_problem_text, country_code
from orders.bounds import order_value_problem, placed_at_problem
from orders.importing.formats import ORDER_FIELDS, SHOPIFY, Format, column_indexes
from orders.importing.lines import line_check
from orders.importing.parsed import (
    Parsed,
    ParsedLine,
    ParsedOrder,
    Problem,
    parsed_totals,
)
from orders.importing.reader import Table
from orders.importing.shopify import shopify_values_complete, shopify_values_read
from orders.importing.values import (
    flag_of,
    money_of,
    rounded_problem,
    text_problem,
    when_of,
)
from orders.models import Customer, FinancialStatus, Order
from orders.money import cents
from orders.notes import notes_problem

# The ship-to fields a format may require; none for an order that ships nothing.
SHIP_TO_REQUIRED = frozenset(
    {"ship_name", "ship_address1", "ship_city", "ship_country"}
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
# Where callers have imported them from.
__all__ = [
    "Parsed",
    "ParsedLine",
    "ParsedOrder",
    "Problem",
    "flag_of",
    "line_check",
    "notes_problem",
    "order_check",
    "orders_parse",
    "parse_table",
    "parsed_totals",
]


# Order fields written from the file value of the same name, as it is.
ORDER_TEXT_FIELDS = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "shipping_method",
    "platform_id",
)


def parse_table(
    table: Table,
    fmt: Format,
    *,
    progress: Callable[[int], None] | None = None,
    default_currency: str = "USD",
    now: datetime | None = None,
) -> Parsed:
    """Group the rows of a file into orders and check every value (their
    dates against `now`, the time the file is read), holding them all."""
    loose: list[Problem] = []
    orders = list(
        orders_parse(
            table,
            fmt,
            loose=loose,
            progress=progress,
            default_currency=default_currency,
            now=now,
        )
    )
    return Parsed(orders=orders, problems=loose)


def orders_parse(
    table: Table,
    fmt: Format,
    *,
    loose: MutableSequence[Problem],
    last_rows: Mapping[str, int] | None = None,
    shopify_tax_included: bool = False,
    progress: Callable[[int], None] | None = None,
    default_currency: str = "USD",
    now: datetime | None = None,
) -> Iterator[ParsedOrder]:
    """Group the rows of a file into orders, check each and yield it; rows
    that belong to no order go to `loose`.

    Without `last_rows` every order is yielded at the end, in the order of
    its first row. With `last_rows` (each order reference's last row, from
    a pass before: `orders.importing.chunks.rows_index`) an order is checked
    and yielded as soon as its last row is read, so only the orders whose
    rows are still to come are held; a Shopify export's orders then take
    `shopify_tax_included` (the file's answer, read in that pass) when their
    own figures do not say.
    """
    index = column_indexes(fmt, table.header)
    name_of = fmt.columns
    decimal_comma = table.delimiter == ";"
    ext_at = index["external_id"]
    sku_at, qty_at, price_at = index["sku"], index["quantity"], index["unit_price"]
    line_name_at = index.get("line_name")
    # The optional line columns this file has, by line_check's argument name.
    line_extras = [
        (argument, index[f])
        for f, argument in (
            ("line_discount", "discount"),
            ("line_total", "total"),
            ("requires_shipping", "requires_shipping"),
            ("line_external_id", "external_id"),
        )
        if f in index
    ]
    order_columns = [(f, index[f]) for f in ORDER_FIELDS if f in index]
    # The order-level cells of a row, compared whole before cell by cell.
    order_cells = operator.itemgetter(*(i for _, i in order_columns), ext_at)
    width = len(table.header)
    orders: dict[str, ParsedOrder] = {}

    def checked(order: ParsedOrder) -> ParsedOrder:
        if fmt is SHOPIFY and last_rows is not None:
            shopify_values_complete(order.values, shopify_tax_included, decimal_comma)
        order_check(order, fmt, decimal_comma, default_currency, now=now)
        order.raw = ()  # only for comparing rows
        return order

    for offset, (number, row) in enumerate(table.rows):
        if progress and offset % 5000 == 0:
            progress(offset)
        if len(row) < width:
            row = row + [""] * (width - len(row))
        external_id = row[ext_at].strip()
        if not external_id:
            loose.append(
                Problem(number, name_of["external_id"], "the order reference is empty.")
            )
            continue
        if message := text_problem(Order, "external_id", external_id):
            # A reference that cannot be stored cannot name an order either.
            loose.append(Problem(number, name_of["external_id"], message))
            continue
        order = orders.get(external_id)
        if order is None:
            values = {f: row[i].strip() for f, i in order_columns}
            order = orders[external_id] = ParsedOrder(external_id, number, values)
            order.raw = order_cells(row)
        elif order_cells(row) != order.raw:
            values = order.values
            for f, i in order_columns:
                cell = row[i].strip()
                if not cell or cell == values[f]:
                    continue
                if values[f] and not (fmt is SHOPIFY and f in ("fulfillment_status",)):
                    order.problems.append(
                        Problem(
                            number,
                            name_of[f],
                            f"{shown(cell)} differs from {shown(values[f])} on row "
                            f"{order.first_row} of the same order {external_id}.",
                            external_id,
                        )
                    )
                elif not values[f]:
                    values[f] = cell

        line_check(
            order,
            fmt,
            row=number,
            sku=row[sku_at],
            quantity=row[qty_at],
            price=row[price_at],
            name=row[line_name_at] if line_name_at is not None else "",
            decimal_comma=decimal_comma,
            **{argument: row[at] for argument, at in line_extras},
        )
        if last_rows is not None and last_rows.get(external_id) == number:
            del orders[external_id]
            yield checked(order)

    if fmt is SHOPIFY and last_rows is None:
        shopify_values_read((o.values for o in orders.values()), decimal_comma)
    for order in orders.values():
        yield checked(order)


def order_check(
    order: ParsedOrder,
    fmt: Format,
    decimal_comma: bool,
    default_currency: str,
    *,
    now: datetime | None = None,
) -> None:
    """Check an order's own values (after its lines), collecting every problem.

    Shared by the CSV import and the order API (orders.intake); its dates are
    bounded (`orders.bounds`) from `now`, the time the order is received.
    """
    values, name_of, row = order.values, fmt.columns, order.first_row

    def problem(f: str, message: str) -> None:
        order.problems.append(Problem(row, name_of[f], message, order.external_id))

    if fmt is SHOPIFY:
        status = values.get("fulfillment_status", "").lower()
        if values.get("cancelled_at"):
            order.skip_reason = "cancelled in Shopify"
        elif status in ("fulfilled", "restocked"):
            order.skip_reason = f"already {status} in Shopify"
        # Shopify writes ZIP codes as '02108 to keep the leading zero.
        values["ship_postcode"] = values.get("ship_postcode", "").lstrip("'")
    # A customer is reached by e-mail or, for one who gave none, by phone.
    reachable = bool(values.get("phone") or values.get("ship_phone"))
    # An order whose every line does not ship (gift cards, downloads) needs
    # no ship-to address.
    ships = not order.lines or any(line.requires_shipping for line in order.lines)
    for f in fmt.required:
        if f in values and not values[f]:
            if (f == "email" and reachable) or (f in SHIP_TO_REQUIRED and not ships):
                continue
            problem(
                f,
                "is required and empty (or give the customer's phone)."
                if f == "email"
                else "is required and empty.",
            )
    email = values.get("email", "")
    if email and not EMAIL.match(email):
        problem("email", f"{shown(email)} is not an e-mail address.")
    country = values.get("ship_country", "")
    if country:
        code = country_code(country)
        if not code:
            problem(
                "ship_country",
                f"{shown(country)} is not a known country (use an ISO code like DE "
                "or DEU, or an English name like Germany).",
            )
        else:
            order.country = code
    placed = values.get("placed_at", "")
    if placed:
        order.placed_at = when_of(placed)
        if order.placed_at is None:
            problem(
                "placed_at",
                f"{shown(placed)} is not a date and time (use 2026-11-20 14:30).",
            )
        elif message := placed_at_problem(order.placed_at, now=now):
            problem("placed_at", message)
    currency = (values.get("currency") or default_currency).upper()
    if not CURRENCY.match(currency):
        problem("currency", f"{shown(currency)} is not a three-letter currency code.")
    order.currency = currency
    for f, attribute in (
        ("shipping_amount", "shipping_amount"),
        ("tax_amount", "tax_amount"),
        ("shipping_discount", "shipping_discount"),
        ("discount_amount", "discount_amount"),
        ("total", "stated_total"),
    ):
        text = values.get(f, "")
        if text:
            amount = money_of(text, decimal_comma)
            if amount is None or amount < 0:
                problem(f, f"{shown(text)} is not an amount (a number like 4.95).")
            elif message := rounded_problem(Order, attribute, amount):
                problem(f, message)
            else:
                setattr(order, attribute, cents(amount))
    _check_payment_and_notes(order, problem)
    _check_storable(order, fmt)
    if order.country and not order.problems:
        order.address_problem = address_problem_text(
            {**values, "ship_country": order.country}
        )


def _check_payment_and_notes(
    order: ParsedOrder, problem: Callable[[str, str], None]
) -> None:
    """Read the order's tax flag, payment state, note, discount codes and
    note attributes from their text (a file's cells; the order API hands its
    lists over already read)."""
    values = order.values
    text = values.get("prices_include_tax", "")
    if text:
        flag = flag_of(text)
        if flag is None:
            problem("prices_include_tax", f"{shown(text)} is not yes or no.")
        else:
            order.prices_include_tax = flag
    status = values.get("financial_status", "").strip().lower()
    if status and status not in FinancialStatus.values:
        problem(
            "financial_status",
            f"{shown(status)} is not a payment state; use one of "
            + ", ".join(FinancialStatus.values)
            + ", or leave it empty.",
        )
    else:
        order.financial_status = status
    order.note = values.get("note", order.note)
    if codes := values.get("discount_codes", ""):
        order.discount_codes = [c.strip() for c in codes.split(",") if c.strip()]
    if attributes := values.get("note_attributes", ""):
        # One "name: value" a line, as a file's cell holds them.
        order.note_attributes = [
            {"name": name.strip(), "value": value.strip()}
            for name, _, value in (
                line.partition(":") for line in attributes.splitlines()
            )
            if name.strip() or value.strip()
        ]
    if message := notes_problem(
        order.note, order.note_attributes, order.discount_codes
    ):
        problem("note", message)


def _check_storable(order: ParsedOrder, fmt: Format) -> None:
    """Check every value the write stores against its model field's limits."""
    values, name_of, row = order.values, fmt.columns, order.first_row
    refused = {p.column for p in order.problems if p.row == row}

    def check(f: str, model, field_name: str, value) -> None:
        column = name_of.get(f, f)
        if column in refused:
            return
        message = (
            text_problem(model, field_name, value)
            if type(value) is str
            else order_value_problem(model, field_name, value)
        )
        if message:
            refused.add(column)
            order.problems.append(Problem(row, column, message, order.external_id))

    # The customer is created from the file (e-mail kept in lower case, the
    # billing name or else the ship-to name); the order's phone falls back to
    # the customer's.
    check("email", Customer, "email", values.get("email", "").lower())
    name_from = "customer_name" if values.get("customer_name") else "ship_name"
    check(name_from, Customer, "name", values.get(name_from, ""))
    check("phone", Customer, "phone", values.get("phone", ""))
    phone_from = "ship_phone" if values.get("ship_phone") else "phone"
    check(phone_from, Order, "ship_phone", values.get(phone_from, ""))
    for f in ORDER_TEXT_FIELDS:
        check(f, Order, f, values.get(f, ""))
    if order.country:
        check("ship_country", Order, "ship_country", order.country)
    if CURRENCY.match(order.currency):
        check("currency", Order, "currency", order.currency)
    totals = parsed_totals(order)
    for field_name, amount, what in (
        ("subtotal", totals.subtotal, "the order's lines add up to"),
        ("total", totals.total, "the order's total is"),
    ):
        if message := order_value_problem(Order, field_name, amount):
            order.problems.append(
                Problem(
                    row,
                    name_of["unit_price"],
                    f"{what} {amount} (quantity × unit price"
                    + (", less discounts" if totals.discount_amount else "")
                    + (", plus shipping and tax" if field_name == "total" else "")
                    + f"): {message.split(': ', 1)[-1]} Split the order into "
                    "smaller ones.",
                    order.external_id,
                )
            )
            break
