"""An order's money as the shop means it: amounts rounded to cents, line totals
after discounts, and the total the OMS computes to compare with the shop's.

Pure arithmetic over Decimals (no database): every intake (the order API,
the shops' webhooks, the CSV import) and the order's own services compute
totals here, so they agree to the cent.

    merchandise = sum(line totals)
                  - the order-level discount not allocated to lines (>= 0)
    total = merchandise + shipping - shipping discount
            + tax (unless the prices already include it)
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
# Line totals and line discounts are kept as sent, up to this many places.
LINE_PLACES = Decimal("0.000001")


def cents(amount: Decimal | int) -> Decimal:
    """Round an amount to cents, half up (as shops and tills do); a whole
    number (a price typed as 79) is taken as it is."""
    if not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_exact(amount: Decimal) -> Decimal:
    """Round a line amount to the places a line keeps (six), half up."""
    return amount.quantize(LINE_PLACES, rounding=ROUND_HALF_UP)


def line_total_of(
    *,
    unit_price: Decimal,
    quantity: int,
    discount_amount: Decimal = ZERO,
    total: Decimal | None = None,
) -> Decimal:
    """Return a line's total after its discounts: the shop's, when it sent
    one, else quantity x unit price (the price as sent, before rounding)
    rounded to cents, less the line's discount."""
    if total is not None:
        return line_exact(total)
    return line_exact(cents(unit_price * quantity) - discount_amount)


@dataclass(frozen=True)
class MoneyLine:
    """What the total needs of a line."""

    total: Decimal
    discount_amount: Decimal = ZERO


@dataclass(frozen=True)
class Totals:
    """An order's computed amounts, in cents."""

    subtotal: Decimal
    discount_amount: Decimal
    total: Decimal


def order_totals(
    *,
    lines: Iterable[MoneyLine],
    discount_amount: Decimal | None,
    shipping_amount: Decimal,
    shipping_discount: Decimal,
    tax_amount: Decimal,
    prices_include_tax: bool,
) -> Totals:
    """Return the order's subtotal (the merchandise after every discount),
    its discount (the shop's, or else the lines' discounts added up) and the
    total the customer pays, as this system computes them."""
    lines = list(lines)
    line_totals = sum((line.total for line in lines), ZERO)
    line_discounts = sum((line.discount_amount for line in lines), ZERO)
    if discount_amount is None:
        discount_amount = cents(line_discounts)
    unallocated = max(discount_amount - line_discounts, ZERO)
    subtotal = cents(max(line_totals - unallocated, ZERO))
    total = subtotal + shipping_amount - shipping_discount
    if not prices_include_tax:
        total += tax_amount
    return Totals(
        subtotal=subtotal, discount_amount=cents(discount_amount), total=cents(total)
    )


def totals_differ(*, computed: Decimal, stated: Decimal | None) -> bool:
    """Whether the shop stated a total that differs from ours by any cent."""
    return stated is not None and cents(stated) != cents(computed)


def refund_amount_of(
    *, line_total: Decimal, quantity: int, already: int, refunding: int
) -> Decimal:
    """Return what `refunding` more units of a line are worth, after its
    discounts, when `already` units of it were refunded: the line's total
    shared over its units, rounded so that every unit refunded in the end
    adds up to the line's total exactly."""
    if quantity <= 0 or refunding <= 0:
        return ZERO
    before = cents(line_total * already / quantity)
    after = cents(line_total * (already + refunding) / quantity)
    return after - before
