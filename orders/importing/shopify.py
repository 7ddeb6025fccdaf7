"""What a Shopify order export means beyond its column names.

No column says whether the shop's prices include tax: the figures do. An
order whose Subtotal (after discounts) plus Shipping equals its Total while
its Taxes are above zero was priced with the tax inside; one whose Subtotal
plus Shipping plus Taxes equals its Total, with the tax on top. An order
without tax, or whose figures match neither (a tip, duties, a discount on
shipping), takes the file's answer: Shopify sets tax-inclusive prices for the
whole shop, so the orders that do show it decide for the others.

The export also gives each address's province twice: `Shipping Province`, a
code (`NY`, `TH-10`, `DU`), and `Shipping Province Name` (`New York`,
`Bangkok`, `Dubai`). The code is kept when the country's address rules know
it, else the name when they know that.

Pure: one pass over the parsed orders' values, no database, no query.
"""

from collections.abc import Iterable
from decimal import Decimal

from orders.addresses import country_code, region_known
from orders.importing.values import money_of

__all__ = [
    "shopify_file_tax_included",
    "shopify_values_complete",
    "shopify_values_read",
    "tax_included_of",
]


def tax_included_of(values: dict[str, str], decimal_comma: bool = False) -> bool | None:
    """Whether an order's figures show its prices include the tax: True or
    False when they add up one way, None when they say nothing (no tax, an
    amount missing, or figures that match neither way)."""
    subtotal, shipping, tax, total = (
        money_of(text, decimal_comma) if (text := values.get(name, "")) else None
        for name in ("subtotal", "shipping_amount", "tax_amount", "total")
    )
    if subtotal is None or total is None or not tax:
        return None
    shipping = shipping or Decimal("0")
    if subtotal + shipping == total:
        return True
    if subtotal + shipping + tax == total:
        return False
    return None


def shopify_values_read(
    orders: Iterable[dict[str, str]], decimal_comma: bool = False
) -> None:
    """Complete each order's values from a Shopify export's figures: the
    `prices_include_tax` the order's own figures show, else the file's; the
    ship-to region from the province column the country's rules know."""
    orders = list(orders)
    file_answer = shopify_file_tax_included(
        tax_included_of(values, decimal_comma) for values in orders
    )
    for values in orders:
        shopify_values_complete(values, file_answer, decimal_comma)


def shopify_file_tax_included(answers: Iterable[bool | None]) -> bool:
    """The file's answer from its orders' (`tax_included_of`): the one they
    give when they agree, else False."""
    decided = {answer for answer in answers if answer is not None}
    return decided.pop() if len(decided) == 1 else False


def shopify_values_complete(
    values: dict[str, str], file_answer: bool, decimal_comma: bool = False
) -> None:
    """Complete one order's values (see `shopify_values_read`), given the
    file's answer."""
    answer = tax_included_of(values, decimal_comma)
    included = file_answer if answer is None else answer
    values["prices_include_tax"] = "true" if included else "false"
    _region_choose(values)


def _region_choose(values: dict[str, str]) -> None:
    region, name = values.get("ship_region", ""), values.get("ship_region_name", "")
    if not name or name == region:
        return
    country = country_code(values.get("ship_country", ""))
    if not country:
        return
    if (not region or not region_known(country, region)) and region_known(
        country, name
    ):
        values["ship_region"] = name
