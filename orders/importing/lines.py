"""One order line checked: its SKU, quantity, price, discount, total, whether
it ships and the shop's id of it (`line_check`), for the CSV import and the
order API alike."""

from core.limits import model_value_problem, shown
from orders.importing.formats import Format
from orders.importing.parsed import ZERO, ParsedLine, ParsedOrder, Problem
from orders.importing.values import (
    flag_of,
    line_amount_of,
    price_of,
    quantity_of,
    text_problem,
)
from orders.models import OrderLine
from orders.money import cents, line_total_of


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
    if message := text_problem(OrderLine, "external_id", line.external_id):
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
    elif message := text_problem(OrderLine, "sku", line.sku):
        problem("sku", message)
        line.sku = ""  # never looked up
    if line.name and (message := text_problem(OrderLine, "name", line.name)):
        problem("line_name", message)
    count, message = quantity_of(quantity.strip())
    if message:
        problem("quantity", message)
    line.quantity = count
    amount, price_problem = price_of(price, decimal_comma)
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
    line_discount, message = line_amount_of(discount, decimal_comma, "discount_amount")
    if message:
        problem("line_discount", message)
    line.discount_amount = line_discount or ZERO
    sent_total, message = line_amount_of(total, decimal_comma, "total")
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
