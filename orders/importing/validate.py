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
from orders.importing.shopify import shopify_values_read
from orders.models import Customer, FinancialStatus, Order, OrderLine
from orders.money import (
    MoneyLine,
    Totals,
    cents,
    line_exact,
    line_total_of,
    order_totals,
)

# The ship-to fields a format may require; none for an order that ships nothing.
SHIP_TO_REQUIRED = frozenset(
    {"ship_name", "ship_address1", "ship_city", "ship_country"}
)
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
    # Rounded to cents for storage; the total is computed from the price as
    # sent (`orders.money.line_total_of`).
    unit_price: Decimal
    name: str = ""
    product_id: int | None = None
    product_name: str = ""
    discount_amount: Decimal = ZERO
    # After the line's discounts, as the shop sent it (or computed).
    total: Decimal = ZERO
    requires_shipping: bool = True
    external_id: str = ""

    def described(self) -> str:
        """The line as a person finds it in the shop: its name and the shop's
        id of it, when known ("" when neither is)."""
        parts = [repr(self.name)] if self.name else []
        if self.external_id:
            parts.append(f"(id {self.external_id})")
        return f"line {' '.join(parts)}" if parts else ""

    def named(self, message: str) -> str:
        """The message, led by the line's name and id when known."""
        described = self.described()
        return f"{described}: {message}" if described else message


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
    # Money as the shop means it (orders.money): None when the shop did not
    # send the order's discount or its total.
    discount_amount: Decimal | None = None
    shipping_discount: Decimal = ZERO
    prices_include_tax: bool = False
    stated_total: Decimal | None = None
    discount_codes: list[str] = field(default_factory=list)
    financial_status: str = ""
    note: str = ""
    note_attributes: list[dict[str, str]] = field(default_factory=list)

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
    """A line's unit price read from the text, as sent, and why a line cannot
    store it rounded to cents (None when it can, or when the text is no price
    at all), remembered per text: prices repeat across a file's lines.
    Decimals are immutable. A price with more places than cents (a shop that
    sends total / quantity) is rounded half up, never refused."""
    amount = _money(text, decimal_comma)
    if amount is None or amount < 0:
        return amount, None
    return amount, rounded_problem(OrderLine, "unit_price", amount)


def rounded_problem(model, field_name: str, amount: Decimal) -> str | None:
    """Why the amount, rounded to cents, does not fit the field, naming the
    amount as sent."""
    if abs(amount) >= TOO_LARGE_TO_ROUND:
        return model_value_problem(model, field_name, amount)
    message = model_value_problem(model, field_name, cents(amount))
    return message.replace(str(cents(amount)), str(amount), 1) if message else None


# Larger than any stored amount, small enough to round within Decimal's
# precision (a larger one is refused as too large before it is rounded).
TOO_LARGE_TO_ROUND = Decimal(10) ** 16


def _line_amount(
    text: str, decimal_comma: bool, field_name: str
) -> tuple[Decimal | None, str]:
    """A line's discount or total read from the text (kept to six places),
    or None and why it cannot be; (None, "") when the text is empty."""
    text = text.strip()
    if not text:
        return None, ""
    amount = _money(text, decimal_comma)
    if amount is None or amount < 0:
        return None, f"{shown(text)} is not an amount (a number like 4.95)."
    if abs(amount) >= TOO_LARGE_TO_ROUND:
        return None, model_value_problem(OrderLine, field_name, amount) or ""
    amount = line_exact(amount)
    message = model_value_problem(OrderLine, field_name, amount)
    return (None, message) if message else (amount, "")


def flag_of(text: str) -> bool | None:
    """A yes/no cell read as a bool (true/false, yes/no, 1/0), else None."""
    return FLAGS.get(text.strip().lower())


FLAGS = {
    "true": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "no": False,
    "n": False,
    "0": False,
}


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
    # The line's optional cells, as line_check's keywords: empty for a file
    # without them (the common, fast case).
    line_cells = [
        (keyword, index[f])
        for keyword, f in (
            ("discount", "line_discount"),
            ("total", "line_total"),
            ("requires_shipping", "requires_shipping"),
        )
        if f in index
    ]
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
            **{keyword: row[i] for keyword, i in line_cells},
        )

    if fmt is SHOPIFY:
        shopify_values_read((o.values for o in orders.values()), decimal_comma)
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
    discount: str = "",
    total: str = "",
    requires_shipping: str = "",
    external_id: str = "",
) -> None:
    """Check one line's values and add it to the order, with its problems.

    The CSV import and the order API (orders.intake) both check lines here;
    `row` is the file's row or the API's line index, `fmt` names the columns.
    `discount` (the line's share of every discount), `total` (after the
    discounts, as the shop sent it), `requires_shipping` (empty: it ships)
    and `external_id` (the shop's id of the line) are optional.
    """
    name_of, order_id = fmt.columns, order.external_id
    problems = order.problems

    def problem(f: str, message: str) -> None:
        problems.append(Problem(row, name_of.get(f, f), message, order_id))

    line = ParsedLine(row, sku.strip(), 0, ZERO, name.strip())
    line.external_id = external_id.strip()
    if message := _text_problem(OrderLine, "external_id", line.external_id):
        problem("line_external_id", message)
        line.external_id = line.external_id[:64]
    ships = flag_of(requires_shipping) if requires_shipping.strip() else True
    if ships is None:
        problem(
            "requires_shipping",
            f"{shown(requires_shipping.strip())} is not yes or no (true/false).",
        )
        ships = True
    line.requires_shipping = ships
    if not line.sku:
        if ships:
            problem(
                "sku",
                line.named(
                    "the SKU is empty; a line that ships needs the SKU of a "
                    "product (or mark it as not shipping)."
                ),
            )
        elif not line.name:
            problem("line_name", "a line without a SKU needs a name.")
    elif message := _text_problem(OrderLine, "sku", line.sku):
        problem("sku", message)
        line.sku = ""  # never looked up
    if line.name and (message := _text_problem(OrderLine, "name", line.name)):
        problem("line_name", message)
    count, message = _quantity(quantity.strip())
    if message:
        problem("quantity", message)
    line.quantity = count
    amount, price_problem = _price(price, decimal_comma)
    if amount is None or amount < 0:
        problem(
            "unit_price",
            f"{shown(price.strip())} is not a price (a number like 12.50).",
        )
        amount = ZERO
    elif price_problem:
        problem("unit_price", price_problem)
        amount = ZERO
    line.unit_price = cents(amount)
    line_discount, message = _line_amount(discount, decimal_comma, "discount_amount")
    if message:
        problem("line_discount", message)
    line.discount_amount = line_discount or ZERO
    sent_total, message = _line_amount(total, decimal_comma, "total")
    if message:
        problem("line_total", message)
    line.total = line_total_of(
        unit_price=amount,
        quantity=count,
        discount_amount=line.discount_amount,
        total=sent_total,
    )
    if sent_total is None and line.total < 0 and not message:
        problem(
            "line_discount",
            f"the discount {line.discount_amount} is more than the line's "
            f"{count} × {cents(amount)}.",
        )
    elif message := model_value_problem(OrderLine, "total", line.total):
        if sent_total is not None:
            problem("line_total", message)
        else:
            problem(
                "unit_price",
                f"the line comes to {cents(line.total)} ({count} × {cents(amount)}"
                + (", less its discount" if line.discount_amount else "")
                + f"): {message.split(': ', 1)[-1]} Split the line.",
            )
    order.lines.append(line)


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
    for f, attribute in (
        ("shipping_amount", "shipping_amount"),
        ("tax_amount", "tax_amount"),
        ("shipping_discount", "shipping_discount"),
        ("discount_amount", "discount_amount"),
        ("total", "stated_total"),
    ):
        text = values.get(f, "")
        if text:
            amount = _money(text, decimal_comma)
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
    if message := notes_problem(order.note, order.note_attributes):
        problem("note", message)


# Generous for a gift message or delivery instructions, small enough to print.
NOTE_MAX = 5000
NOTE_ATTRIBUTES_MAX = 50


def notes_problem(note: str, attributes: list[dict[str, str]]) -> str:
    """Why an order's note and note attributes cannot be kept, or ""."""
    if len(note) > NOTE_MAX:
        return f"the note has {len(note)} characters; at most {NOTE_MAX} are kept."
    if len(attributes) > NOTE_ATTRIBUTES_MAX:
        return (
            f"{len(attributes)} note attributes; at most {NOTE_ATTRIBUTES_MAX} "
            "are kept."
        )
    size = sum(len(a["name"]) + len(a["value"]) for a in attributes)
    if size > NOTE_MAX:
        return f"the note attributes have {size} characters; at most {NOTE_MAX}."
    return ""


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
    totals = parsed_totals(order)
    for field_name, amount, what in (
        ("subtotal", totals.subtotal, "the order's lines add up to"),
        ("total", totals.total, "the order's total is"),
    ):
        if message := model_value_problem(Order, field_name, amount):
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


def parsed_totals(order: ParsedOrder) -> Totals:
    """The order's subtotal, discount and total as this system computes them
    from what the shop sent (`orders.money.order_totals`)."""
    return order_totals(
        lines=[MoneyLine(line.total, line.discount_amount) for line in order.lines],
        discount_amount=order.discount_amount,
        shipping_amount=order.shipping_amount,
        shipping_discount=order.shipping_discount,
        tax_amount=order.tax_amount,
        prices_include_tax=order.prices_include_tax,
    )
