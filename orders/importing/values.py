"""A file's cells (or an API body's values as text) read as amounts,
quantities, dates and yes/no, each with why it cannot be stored; remembered
per text where a file repeats them."""

import functools
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.limits import integer_range, model_value_problem, shown
from orders.models import OrderLine
from orders.money import cents, line_exact


@functools.lru_cache(maxsize=16384)
def text_problem(model, name: str, value: str) -> str | None:
    """`model_value_problem` for a text value, remembered: a file repeats its
    SKUs, customers, cities and methods on many rows, and fields with
    validators of their own (the e-mail) are slow to check."""
    return model_value_problem(model, name, value)


def money_of(text: str, decimal_comma: bool) -> Decimal | None:
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
def price_of(text: str, decimal_comma: bool) -> tuple[Decimal | None, str | None]:
    """A line's unit price read from the text, as sent, and why a line cannot
    store it rounded to cents (None when it can, or when the text is no price
    at all), remembered per text: prices repeat across a file's lines.
    Decimals are immutable. A price with more places than cents (a shop that
    sends total / quantity) is rounded half up, never refused."""
    amount = money_of(text, decimal_comma)
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


def line_amount_of(
    text: str, decimal_comma: bool, field_name: str
) -> tuple[Decimal | None, str]:
    """A line's discount or total read from the text (kept to six places),
    or None and why it cannot be; (None, "") when the text is empty."""
    text = text.strip()
    if not text:
        return None, ""
    amount = money_of(text, decimal_comma)
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
def quantity_of(text: str) -> tuple[int, str]:
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


def when_of(text: str) -> datetime | None:
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
