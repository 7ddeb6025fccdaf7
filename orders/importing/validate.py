"""Group rows into orders and check every value, collecting every problem.

Pure Python over strings: nothing here touches the database, so a whole file
is checked before anything is written. `resolve` then looks up channels,
products, customers and already imported orders in a few set-based queries.
"""

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.countries import country_code
from orders.importing.formats import ORDER_FIELDS, SHOPIFY, Format, column_indexes
from orders.importing.reader import Table

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
ZERO = Decimal("0")


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
                            f"{cell!r} differs from {values[f]!r} on row "
                            f"{order.first_row} of the same order {external_id}.",
                            external_id,
                        )
                    )
                elif not values[f]:
                    values[f] = cell

        sku = row[sku_at].strip()
        quantity_text = row[qty_at].strip()
        price = _money(row[price_at], decimal_comma)
        problems = order.problems
        if not sku:
            problems.append(
                Problem(number, name_of["sku"], "the SKU is empty.", external_id)
            )
        if not quantity_text.isdigit() or int(quantity_text) == 0:
            problems.append(
                Problem(
                    number,
                    name_of["quantity"],
                    f"{quantity_text!r} is not a whole number above zero.",
                    external_id,
                )
            )
            quantity = 0
        else:
            quantity = int(quantity_text)
        if price is None or price < 0:
            problems.append(
                Problem(
                    number,
                    name_of["unit_price"],
                    f"{row[price_at].strip()!r} is not a price (a number like 12.50).",
                    external_id,
                )
            )
            price = ZERO
        order.lines.append(
            ParsedLine(
                number,
                sku,
                quantity,
                price,
                row[line_name_at].strip() if line_name_at is not None else "",
            )
        )

    for order in orders.values():
        _check_order(order, fmt, decimal_comma, default_currency)
    return Parsed(orders=list(orders.values()), problems=loose)


def _check_order(
    order: ParsedOrder, fmt: Format, decimal_comma: bool, default_currency: str
) -> None:
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
        problem("email", f"{email!r} is not an e-mail address.")
    country = values.get("ship_country", "")
    if country:
        code = country_code(country)
        if code is None:
            problem(
                "ship_country",
                f"{country!r} is not a known country (use ISO codes like US, DE).",
            )
        else:
            order.country = code
    placed = values.get("placed_at", "")
    if placed:
        order.placed_at = _when(placed)
        if order.placed_at is None:
            problem(
                "placed_at",
                f"{placed!r} is not a date and time (use 2026-11-20 14:30).",
            )
    currency = (values.get("currency") or default_currency).upper()
    if not CURRENCY.match(currency):
        problem("currency", f"{currency!r} is not a three-letter currency code.")
    order.currency = currency
    for f in ("shipping_amount", "tax_amount"):
        text = values.get(f, "")
        if text:
            amount = _money(text, decimal_comma)
            if amount is None or amount < 0:
                problem(f, f"{text!r} is not an amount (a number like 4.95).")
            else:
                setattr(order, f, amount)
