"""Shopify's order resource (as its `orders/*` webhooks send it) in the
order API's shape.

Shopify signs each webhook with `X-Shopify-Hmac-Sha256`: the base64 of the
HMAC-SHA256 of the raw body under the app's client secret (or the secret
shown for webhooks made under Settings → Notifications).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/paid"}
# A refund made in Shopify (its body is the refund resource, naming the order
# by Shopify's numeric id only).
REFUND_TOPIC = "refunds/create"
CENT = Decimal("0.01")
# Shopify's payment states in the order body's normalised names (the contract
# of the order API); `expired` is an authorisation that lapsed.
FINANCIAL_STATUSES = {
    "paid": "paid",
    "authorized": "authorized",
    "pending": "pending",
    "partially_paid": "partially_paid",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "voided": "voided",
    "expired": "voided",
    "unpaid": "unpaid",
}


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return amount if amount.is_finite() else Decimal("0")


def shopify_external_id(resource: Any) -> str:
    """Return the order's name (`#1001`), its reference in the CSV export too.

    A refund names its order by Shopify's numeric id alone: its key is that
    id (`shopify_order_key`), which the order's own messages carry too.
    """
    if not isinstance(resource, dict):
        return ""
    if shopify_is_refund(resource):
        return shopify_order_key(resource.get("order_id"))
    name = resource.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    number = resource.get("order_number") or resource.get("id")
    return f"#{number}" if isinstance(number, int | str) and number else ""


def _dicts(value: Any) -> list[dict]:
    return (
        [item for item in value if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )


def _allocated(item: dict) -> Decimal:
    """The discounts Shopify allocated to a line or a shipping line."""
    return sum(
        (_amount(a.get("amount")) for a in _dicts(item.get("discount_allocations"))),
        Decimal("0"),
    )


def shopify_line(item: dict) -> dict:
    """Return an order API line for a Shopify line item.

    The line total is the price times the quantity ordered less the discounts
    allocated to the line (`discount_allocations`, line-level and the line's
    share of order-level discounts), as Shopify's subtotal counts it. A gift
    card, or a line Shopify says needs no shipping (a custom or digital item),
    does not ship.
    """
    quantity = item.get("quantity")
    price = _amount(item.get("price"))
    discount = _allocated(item)
    line = {
        "sku": item.get("sku") or "",
        "quantity": quantity,
        "unit_price": item.get("price"),
        "name": item.get("name") or item.get("title"),
        "discount_amount": str(discount),
        "requires_shipping": item.get("requires_shipping") is not False
        and item.get("gift_card") is not True,
        "external_id": str(item.get("product_id") or item.get("id") or ""),
    }
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        line["total"] = str(price * quantity - discount)
    return line


def shopify_financial_status(resource: Any) -> str:
    """Return the order's payment state in the order API's names ("" unknown)."""
    if not isinstance(resource, dict) or not isinstance(
        resource.get("financial_status"), str
    ):
        return ""
    return FINANCIAL_STATUSES.get(resource["financial_status"].strip().lower(), "")


def shopify_note_attributes(resource: dict) -> list[dict]:
    """Return the order's note attributes (gift message, delivery instructions)."""
    return [
        {"name": str(attribute.get("name") or ""), "value": _note_value(attribute)}
        for attribute in _dicts(resource.get("note_attributes"))
        if attribute.get("name")
    ]


def _note_value(attribute: dict) -> str:
    value = attribute.get("value")
    return "" if value is None else str(value)


def shopify_order_body(resource: dict) -> dict:
    """Return the order API body for a Shopify order resource.

    Money as Shopify states it: `total_price` is the total the customer pays
    for the order as placed (`current_total_price` follows later edits and
    refunds, which are not intake's business); `taxes_included` says whether
    prices and total already hold the tax; `total_discounts` is every discount
    on the merchandise; the shipping lines' `price` less `discounted_price` is
    the discount on shipping.
    """
    customer = (
        resource.get("customer") if isinstance(resource.get("customer"), dict) else {}
    )
    lines = [shopify_line(item) for item in _dicts(resource.get("line_items"))]
    address = resource.get("shipping_address")
    if not isinstance(address, dict):
        # An order that ships nothing (gift cards) has no shipping address:
        # the billing address names the customer.
        billing = resource.get("billing_address")
        ships = any(line["requires_shipping"] for line in lines)
        address = billing if isinstance(billing, dict) and not ships else {}
    shipping_lines = _dicts(resource.get("shipping_lines"))
    shipping_amount = sum(
        (_amount(line.get("price", "0")) for line in shipping_lines), Decimal("0")
    )
    shipping_discount = sum(
        (_shipping_discount(line) for line in shipping_lines), Decimal("0")
    )
    codes = [
        code["code"].strip()
        for code in _dicts(resource.get("discount_codes"))
        if isinstance(code.get("code"), str) and code["code"].strip()
    ]
    note = resource.get("note")
    return {
        "external_id": shopify_external_id(resource),
        "platform_id": shopify_order_id(resource),
        "placed_at": resource.get("processed_at") or resource.get("created_at"),
        "currency": resource.get("currency"),
        "shipping_method": shipping_lines[0].get("title") if shipping_lines else "",
        "shipping_amount": str(shipping_amount),
        "shipping_discount": str(shipping_discount),
        "tax_amount": resource.get("total_tax"),
        "prices_include_tax": resource.get("taxes_included") is True,
        "discount_amount": resource.get("total_discounts") or "0",
        "discount_codes": codes,
        "total": resource.get("total_price"),
        "financial_status": shopify_financial_status(resource),
        "note": note if isinstance(note, str) else "",
        "note_attributes": shopify_note_attributes(resource),
        "customer": {
            "email": resource.get("email")
            or resource.get("contact_email")
            or customer.get("email"),
            "name": _join(customer.get("first_name"), customer.get("last_name")),
            "phone": customer.get("phone")
            or resource.get("phone")
            or address.get("phone"),
        },
        "shipping_address": {
            "name": address.get("name")
            or _join(address.get("first_name"), address.get("last_name")),
            "company": address.get("company"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "region": address.get("province_code") or address.get("province"),
            "postcode": address.get("zip"),
            "country": address.get("country_code") or address.get("country"),
            "phone": address.get("phone"),
        },
        "lines": lines,
    }


def _shipping_discount(line: dict) -> Decimal:
    """A shipping line's discount: its price less its discounted price (or the
    discounts allocated to it, where an older body has no discounted price)."""
    if line.get("discounted_price") is None:
        return _allocated(line)
    return max(
        _amount(line.get("price", "0")) - _amount(line["discounted_price"]),
        Decimal("0"),
    )


def shopify_is_cancelled(resource: Any) -> bool:
    return isinstance(resource, dict) and bool(resource.get("cancelled_at"))


def shopify_updated_at(resource: Any) -> datetime | None:
    """Return the resource's `updated_at` (aware), or None when absent or bad."""
    if not isinstance(resource, dict) or not isinstance(
        resource.get("updated_at"), str
    ):
        return None
    moment = parse_datetime(resource["updated_at"].strip())
    if moment is None or timezone.is_naive(moment):
        return None
    return moment


def shopify_line_quantities(resource: dict) -> dict[str, int]:
    """Return the quantity per SKU the order holds now.

    Shopify keeps an edited order's original `quantity` on each line item and
    gives what is left in `current_quantity` (0 for a removed item); added
    items come as new line items.
    """
    quantities: dict[str, int] = {}
    line_items = resource.get("line_items")
    for item in line_items if isinstance(line_items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str):
            continue
        quantity = item.get("current_quantity", item.get("quantity"))
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            continue
        sku = item["sku"].strip()
        if sku and quantity > 0:
            quantities[sku] = quantities.get(sku, 0) + quantity
    return quantities


def shopify_order_key(order_id: Any) -> str:
    """Return the key of a Shopify order by its numeric id ("" without one)."""
    if isinstance(order_id, bool) or not isinstance(order_id, int | str):
        return ""
    text = str(order_id).strip()
    return f"shopify-order:{text}" if text.isdigit() else ""


def shopify_order_id(resource: Any) -> str:
    """Return the numeric id of the order an order body describes ("")."""
    if not isinstance(resource, dict):
        return ""
    order = resource.get("order") if isinstance(resource.get("order"), dict) else {}
    value = resource.get("id", order.get("id"))
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def shopify_is_refund(resource: Any) -> bool:
    """Whether a body is a refund resource (not an order)."""
    return (
        isinstance(resource, dict)
        and "order_id" in resource
        and "line_items" not in resource
        and ("refund_line_items" in resource or "transactions" in resource)
    )


@dataclass
class RefundedLine:
    """Units of a line item a Shopify refund paid back, at what they cost the
    customer after the line's discounts (`subtotal`) plus their tax."""

    sku: str
    name: str
    quantity: int
    subtotal: Decimal
    tax: Decimal

    @property
    def amount(self) -> Decimal:
        return self.subtotal + self.tax


@dataclass
class ShopRefund:
    """What a Shopify `refunds/create` body says: the money given back
    (`amount`: its successful refund transactions), the lines and units
    refunded, and the shipping refunded (`order_adjustments` of kind
    `shipping_refund`)."""

    refund_id: str
    order_id: str
    amount: Decimal
    note: str
    lines: list[RefundedLine] = field(default_factory=list)
    shipping: Decimal = Decimal("0.00")
    currency: str = ""


def _cents(value: Any) -> Decimal:
    return _amount(value).quantize(CENT)


def shopify_refund(resource: dict) -> ShopRefund:
    """Read a Shopify refund resource; amounts in cents, as Shopify states
    them (a line's `subtotal` is after its discounts)."""
    lines = []
    for item in _dicts(resource.get("refund_line_items")):
        line_item = (
            item.get("line_item") if isinstance(item.get("line_item"), dict) else {}
        )
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            continue
        lines.append(
            RefundedLine(
                sku=str(line_item.get("sku") or "").strip(),
                name=str(line_item.get("name") or line_item.get("title") or ""),
                quantity=quantity,
                subtotal=_cents(item.get("subtotal")),
                tax=_cents(item.get("total_tax")),
            )
        )
    transactions = [
        transaction
        for transaction in _dicts(resource.get("transactions"))
        if transaction.get("kind") == "refund"
        and transaction.get("status") in ("success", None)
    ]
    shipping = -sum(
        (
            _cents(adjustment.get("amount")) + _cents(adjustment.get("tax_amount"))
            for adjustment in _dicts(resource.get("order_adjustments"))
            if adjustment.get("kind") == "shipping_refund"
        ),
        Decimal("0.00"),
    )
    note = resource.get("note")
    currencies = {t.get("currency") for t in transactions if t.get("currency")}
    return ShopRefund(
        refund_id=str(resource.get("id") or ""),
        order_id=str(resource.get("order_id") or ""),
        amount=sum((_cents(t.get("amount")) for t in transactions), Decimal("0.00")),
        note=note.strip() if isinstance(note, str) else "",
        lines=lines,
        shipping=max(shipping, Decimal("0.00")),
        currency=currencies.pop() if len(currencies) == 1 else "",
    )
