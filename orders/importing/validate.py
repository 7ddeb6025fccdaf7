"""Group rows into orders and check every value, collecting every problem.

Pure Python over strings: nothing here touches the database, so a whole file
is checked before anything is written. `resolve` then looks up channels,
products, customers and already imported orders in a few set-based queries.
"""

import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.limits import integer_range, model_value_problem, shown
from orders.addresses import address_problem_text, country_code
from orders.importing.formats import ORDER_FIELDS, SHOPIFY, Format, column_indexes
from orders.importing.reader import Table
from orders.models import Customer, Order, OrderLine

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
ZERO = Decimal("0")


@functools.lru_cache(maxsize=16384)
def _text_problem(model, name: str, value: str) -> str | None:
    """`model_value_problem` for a text value, remembered: a file repeats its
    SKUs, customers, cities and methods on many rows, and fields with
    validators of their own (the e-mail) are slow to check."""
    return model_value_problem(model, name, value)


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
)


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str
    external_id: str = ""

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


@dataclass(slots=True)
class ParsedLine:
    row: int
    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    product_id: int | None = None
    product_name: str = ""


@dataclass(slots=True)
class ParsedOrder:
    external_id: str
    first_row: int
    values: dict[str, str]
    lines: list[ParsedLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    placed_at: datetime | None = None
    country: str = ""
    currency: str = ""
    shipping_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    channel_id: int | None = None
    customer_id: int | None = None
    skip_reason: str = ""
    raw: tuple = ()
    # Why the address does not meet its country's rules: the order is still
    # imported, on hold for an address check, with this as the hold note.
    address_problem: str = ""

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass
class Parsed:
    orders: list[ParsedOrder]
    problems: list[Problem]  # rows that belong to no order


def _money(text: str, decimal_comma: bool) -> Decimal | None:
    if not decimal_comma:
        try:  # The common case: a plain number such as 12.50.
            value = Decimal(text)
        except InvalidOperation:
            pass
        else:
            return value if value.is_finite() else None
    text = text.strip().replace(" ", "")
    for symbol in ("$", "€", "£"):
        text = text.replace(symbol, "")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@functools.lru_cache(maxsize=16384)
def _price(text: str, decimal_comma: bool) -> tuple[Decimal | None, str | None]:
    """A line's unit price read from the text, and why a line cannot store it
    (None when it can, or when the text is no price at all), remembered per
    text: prices repeat across a file's lines. Decimals are immutable."""
    amount = _money(text, decimal_comma)
    if amount is None or amount < 0:
        return amount, None
    return amount, model_value_problem(OrderLine, "unit_price", amount)


@functools.lru_cache(maxsize=4096)
def _quantity(text: str) -> tuple[int, str]:
    """Return a line's quantity, or 0 and why the text is not one (remembered:
    a file has few different quantities)."""
    if not (text.isascii() and text.isdigit()) or not text.strip("0"):
        return 0, f"{shown(text)} is not a whole number above zero."
    field = OrderLine._meta.get_field("quantity")
    highest = integer_range(field)[1]
    # Longer than the largest value: too large, without reading a huge number.
    if len(text.lstrip("0")) > len(str(highest)):
        return 0, f"{shown(text)} is too large: the most it can be is {highest}."
    quantity = int(text)
    message = model_value_problem(OrderLine, "quantity", quantity)
    return (0, message) if message else (quantity, "")


def _when(text: str) -> datetime | None:
    text = text.strip()
    for parse in (
        datetime.fromisoformat,
        lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S %z"),
        lambda t: datetime.strptime(t, "%d/%m/%Y %H:%M"),
    ):
        try:
            value = parse(text)
        except ValueError:
            continue
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else timezone.make_aware(value)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return timezone.make_aware(datetime(day.year, day.month, day.day))


def parse_table(
    table: Table,
    fmt: Format,
    *,
    progress: Callable[[int], None] | None = None,
    default_currency: str = "USD",
) -> Parsed:
    """Group the rows of a file into orders and check every value."""
    index = column_indexes(fmt, table.header)
    name_of = fmt.columns
    decimal_comma = table.delimiter == ";"
    ext_at = index["external_id"]
    sku_at, qty_at, price_at = index["sku"], index["quantity"], index["unit_price"]
    line_name_at = index.get("line_name")
    order_columns = [(f, index[f]) for f in ORDER_FIELDS if f in index]
    # The order-level cells of a row, compared whole before cell by cell.
    order_cells = operator.itemgetter(*(i for _, i in order_columns), ext_at)
    width = len(table.header)
    orders: dict[str, ParsedOrder] = {}
    loose: list[Problem] = []

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
        if message := _text_problem(Order, "external_id", external_id):
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
        )

    for order in orders.values():
        order_check(order, fmt, decimal_comma, default_currency)
    return Parsed(orders=list(orders.values()), problems=loose)


def line_check(
    order: ParsedOrder,
    fmt: Format,
    *,
    row: int,
    sku: str,
    quantity: str,
    price: str,
    name: str = "",
    decimal_comma: bool = False,
) -> None:
    """Check one line's values and add it to the order, with its problems.

    The CSV import and the order API (orders.intake) both check lines here;
    `row` is the file's row or the API's line index, `fmt` names the columns.
    """
    name_of, external_id = fmt.columns, order.external_id
    sku = sku.strip()
    amount, price_problem = _price(price, decimal_comma)
    problems = order.problems
    if not sku:
        problems.append(Problem(row, name_of["sku"], "the SKU is empty.", external_id))
    elif message := _text_problem(OrderLine, "sku", sku):
        problems.append(Problem(row, name_of["sku"], message, external_id))
        sku = ""  # never looked up
    count, message = _quantity(quantity.strip())
    if message:
        problems.append(Problem(row, name_of["quantity"], message, external_id))
    if amount is None or amount < 0:
        problems.append(
            Problem(
                row,
                name_of["unit_price"],
                f"{shown(price.strip())} is not a price (a number like 12.50).",
                external_id,
            )
        )
        amount = ZERO
    elif message := price_problem:
        problems.append(Problem(row, name_of["unit_price"], message, external_id))
        amount = ZERO
    order.lines.append(ParsedLine(row, sku, count, amount, name.strip()))


def order_check(
    order: ParsedOrder, fmt: Format, decimal_comma: bool, default_currency: str
) -> None:
    """Check an order's own values (after its lines), collecting every problem.

    Shared by the CSV import and the order API (orders.intake).
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
    for f in fmt.required:
        if f in values and not values[f]:
            problem(f, "is required and empty.")
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
        order.placed_at = _when(placed)
        if order.placed_at is None:
            problem(
                "placed_at",
                f"{shown(placed)} is not a date and time (use 2026-11-20 14:30).",
            )
    currency = (values.get("currency") or default_currency).upper()
    if not CURRENCY.match(currency):
        problem("currency", f"{shown(currency)} is not a three-letter currency code.")
    order.currency = currency
    for f in ("shipping_amount", "tax_amount"):
        text = values.get(f, "")
        if text:
            amount = _money(text, decimal_comma)
            if amount is None or amount < 0:
                problem(f, f"{shown(text)} is not an amount (a number like 4.95).")
            elif message := model_value_problem(Order, f, amount):
                problem(f, message)
            else:
                setattr(order, f, amount)
    _check_storable(order, fmt)
    if order.country and not order.problems:
        order.address_problem = address_problem_text(
            {**values, "ship_country": order.country}
        )


def _check_storable(order: ParsedOrder, fmt: Format) -> None:
    """Check every value the write stores against its model field's limits."""
    values, name_of, row = order.values, fmt.columns, order.first_row
    refused = {p.column for p in order.problems if p.row == row}

    def check(f: str, model, field_name: str, value) -> None:
        column = name_of.get(f, f)
        if column in refused:
            return
        message = (
            _text_problem(model, field_name, value)
            if type(value) is str
            else model_value_problem(model, field_name, value)
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
    if order.placed_at is not None:
        check("placed_at", Order, "placed_at", order.placed_at)
    subtotal = sum((line.unit_price * line.quantity for line in order.lines), ZERO)
    total = subtotal + order.shipping_amount + order.tax_amount
    for field_name, amount, what in (
        ("subtotal", subtotal, "the order's lines add up to"),
        ("total", total, "the order's total is"),
    ):
        if message := model_value_problem(Order, field_name, amount):
            order.problems.append(
                Problem(
                    row,
                    name_of["unit_price"],
                    f"{what} {amount} (quantity × unit price"
                    + (", plus shipping and tax" if field_name == "total" else "")
                    + f"): {message.split(': ', 1)[-1]} Split the order into "
                    "smaller ones.",
                    order.external_id,
                )
            )
            break
