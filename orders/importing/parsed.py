"""An import's orders and lines as read and checked (before anything is
written), shared by the CSV import and the order API."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orders.money import MoneyLine, Totals, order_totals

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
