"""WooCommerce's order resource (as its `order.*` webhooks send it, the REST
API v3 shape; v1 and v2 are read alike) in the order API's shape.

WooCommerce signs each delivery with `X-WC-Webhook-Signature`: the base64 of
the HMAC-SHA256 of the raw body under the webhook's Secret. Saving a webhook
sends a ping, a form-encoded `webhook_id=…` body.

Money as WooCommerce keeps it: every amount is stored without its tax, the
tax beside it (`subtotal_tax`, `total_tax`, `discount_tax`, `shipping_tax`),
whatever `prices_include_tax` says; the flag only says the customer saw and
paid prices with the tax in. So when it is set, each amount the order API
takes is the amount plus its tax, and the order's `total` is then the sum of
the lines, fees and shipping as charged. A line's `price` is its total after
discounts divided by its quantity (2.6666666666666665 for 8.00 over three);
the unit price sent here is the line's `subtotal` (before discounts) over
its quantity instead, and the line's `total` is taken exactly as sent.
"""

import html
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
# Paid and waiting to be shipped: the only state an order is taken in.
IMPORTED_STATUSES = {"processing"}
# The shop gave up on the order: cancel it here too, where that is allowed.
CANCELLED_STATUSES = {"cancelled", "refunded", "failed", "trash"}
# WooCommerce's order states as the order API's payment states. An order is
# paid once it is processing (or completed); pending and on hold wait for the
# money (a bank transfer, a cheque); a state a plugin adds is not known ("").
FINANCIAL_STATUSES = {
    "processing": "paid",
    "completed": "paid",
    "on-hold": "pending",
    "pending": "pending",
    "failed": "unpaid",
    "cancelled": "voided",
    "refunded": "refunded",
}
# Orders whose shipping WooCommerce itself decided: its checkout (classic or
# blocks) and a subscription's renewal add a shipping line exactly when the
# cart holds something that needs shipping. An order a person or a program
# made (admin, REST API) may simply lack the line, so it proves nothing there.
CHECKOUT_CREATED_VIA = {"checkout", "store-api", "subscription"}
# The meta WooCommerce's checkout writes on each shipping line: the package's
# contents, "Name &times; quantity, …" (only products that need shipping).
ITEMS_META_KEY = "Items"
UNIT_PLACES = Decimal("0.000001")
CENT = Decimal("0.01")


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


def _number(value: Any) -> Decimal | None:
    """An amount as WooCommerce sends it (a string, sometimes a number), or
    None when it is missing or no number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _plus_tax(amount: Any, tax: Any, with_tax: bool) -> Any:
    """The amount, with its tax added when the prices include tax; the value
    as sent when it is no number (the order API then names the field)."""
    number = _number(amount)
    if number is None or not with_tax:
        return amount
    return str(number + (_number(tax) or Decimal("0")))


def _decimal_text(amount: Decimal) -> str:
    """An amount as text: to the cent when that is exact, else to six places
    (a price shared over a quantity that does not divide it)."""
    if amount == amount.quantize(CENT):
        return str(amount.quantize(CENT))
    return str(amount.quantize(UNIT_PLACES, ROUND_HALF_UP))


def _dicts(value: Any) -> list[dict]:
    return (
        [item for item in value if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )


def woocommerce_external_id(resource: Any) -> str:
    """Return the order's number as the shop shows it (its id unless a plugin
    numbers orders)."""
    if not isinstance(resource, dict):
        return ""
    number = resource.get("number") or resource.get("id")
    return str(number).strip() if isinstance(number, int | str) else ""


def woocommerce_status(resource: Any) -> str:
    if isinstance(resource, dict) and isinstance(resource.get("status"), str):
        return resource["status"]
    return ""


def woocommerce_modified_at(resource: Any) -> datetime | None:
    """When the shop last changed the order (`date_modified_gmt`, UTC without
    an offset; the site-time `date_modified` of the v1 API as a fallback)."""
    if not isinstance(resource, dict):
        return None
    for key in ("date_modified_gmt", "date_modified"):
        text = resource.get(key)
        if not isinstance(text, str) or not text:
            continue
        try:
            moment = parse_datetime(text.replace(" ", "T"))
        except ValueError:
            moment = None
        if moment is None:
            continue
        if timezone.is_naive(moment):
            zone = UTC if key.endswith("_gmt") else None
            moment = timezone.make_aware(moment, zone)
        return moment
    return None


def _shipped_names(resource: dict) -> set[str] | None:
    """The products WooCommerce's checkout packed for shipping ("Name ×
    quantity", from the shipping lines' `Items` meta); an empty set when the
    checkout charged no shipping at all; None when the order does not say."""
    shipping_lines = resource.get("shipping_lines")
    if not isinstance(shipping_lines, list):
        return None
    if not shipping_lines:
        if resource.get("created_via") in CHECKOUT_CREATED_VIA:
            return set()
        return None
    packed = [
        html.unescape(str(meta.get("value")))
        for line in _dicts(shipping_lines)
        for meta in _dicts(line.get("meta_data"))
        if meta.get("key") == ITEMS_META_KEY and isinstance(meta.get("value"), str)
    ]
    return set(packed) if packed else None


def _requires_shipping(item: dict, name: str, shipped: set[str] | None) -> bool:
    """Whether a line ships: unless WooCommerce's checkout shows it did not
    pack it (see `_shipped_names`), it does."""
    if shipped is None:
        return True
    packed_as = f"{name} × {item.get('quantity')}"
    return any(packed_as in contents for contents in shipped)


def _line(item: dict, with_tax: bool, shipped: set[str] | None) -> dict:
    """An order API line for a WooCommerce line item."""
    name = html.unescape(str(item.get("name") or "")).strip()
    subtotal = _number(item.get("subtotal"))
    total = _number(item.get("total"))
    quantity = item.get("quantity")
    unit_price = item.get("price")
    discount = None
    if subtotal is not None:
        gross_subtotal = subtotal + (
            (_number(item.get("subtotal_tax")) or Decimal("0")) if with_tax else 0
        )
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity:
            unit_price = _decimal_text(gross_subtotal / quantity)
        if total is not None:
            gross_total = total + (
                (_number(item.get("total_tax")) or Decimal("0")) if with_tax else 0
            )
            discount = str(max(gross_subtotal - gross_total, Decimal("0")))
    # The product as the shop's admin finds it: the variation bought, else
    # the product (else, for a product since deleted, the line).
    product = item.get("variation_id") or item.get("product_id") or item.get("id")
    return {
        "sku": item.get("sku"),
        "quantity": quantity,
        "unit_price": unit_price,
        "name": name,
        "discount_amount": discount,
        "total": _plus_tax(item.get("total"), item.get("total_tax"), with_tax),
        "requires_shipping": _requires_shipping(item, name, shipped),
        "external_id": str(product) if isinstance(product, int | str) else "",
    }


def _fee_line(fee: dict, with_tax: bool) -> dict:
    """An order API line for a fee the customer pays (gift wrap, a payment
    surcharge): it counts in the totals and never ships."""
    total = _plus_tax(fee.get("total"), fee.get("total_tax"), with_tax)
    return {
        "sku": "",
        "quantity": 1,
        "unit_price": total,
        "name": html.unescape(str(fee.get("name") or "")).strip() or "Fee",
        "discount_amount": "0",
        "total": total,
        "requires_shipping": False,
        "external_id": str(fee.get("id") or ""),
    }


def woocommerce_order_body(resource: dict) -> dict:
    """Return the order API body for a WooCommerce order resource."""
    billing = resource.get("billing")
    billing = billing if isinstance(billing, dict) else {}
    shipping = resource.get("shipping")
    shipping = shipping if isinstance(shipping, dict) else {}
    # Orders without a shipping address (the shopper ticked "same as
    # billing" in some themes) ship to the billing address.
    if not shipping.get("address_1"):
        shipping = {**billing, **{k: v for k, v in shipping.items() if v}}
    shipping_lines = _dicts(resource.get("shipping_lines"))
    placed = resource.get("date_created_gmt")
    if isinstance(placed, str) and placed and not placed.endswith("Z"):
        placed += "Z"  # the _gmt dates carry no offset
    with_tax = resource.get("prices_include_tax") is True
    shipped = _shipped_names(resource)
    lines = [
        _line(item, with_tax, shipped) for item in _dicts(resource.get("line_items"))
    ]
    # A fee is a charge (a line that never ships) or, below zero, the way
    # plugins give a discount on the whole order.
    discount = _plus_tax(
        resource.get("discount_total"), resource.get("discount_tax"), with_tax
    )
    for fee in _dicts(resource.get("fee_lines")):
        amount = _number(_plus_tax(fee.get("total"), fee.get("total_tax"), with_tax))
        if amount is not None and amount < 0:
            discount = str((_number(discount) or Decimal("0")) - amount)
        elif amount:
            lines.append(_fee_line(fee, with_tax))
    return {
        "external_id": woocommerce_external_id(resource),
        "placed_at": placed or resource.get("date_created"),
        "currency": resource.get("currency"),
        "shipping_method": html.unescape(str(shipping_lines[0].get("method_title")))
        if shipping_lines and shipping_lines[0].get("method_title")
        else "",
        "shipping_amount": _plus_tax(
            resource.get("shipping_total"), resource.get("shipping_tax"), with_tax
        ),
        "tax_amount": resource.get("total_tax"),
        "prices_include_tax": with_tax,
        "discount_amount": discount,
        "discount_codes": [
            str(coupon["code"])
            for coupon in _dicts(resource.get("coupon_lines"))
            if coupon.get("code")
        ],
        "total": resource.get("total"),
        "financial_status": FINANCIAL_STATUSES.get(woocommerce_status(resource), ""),
        "note": resource.get("customer_note") or "",
        "customer": {
            "email": billing.get("email"),
            "name": _join(billing.get("first_name"), billing.get("last_name")),
            "phone": billing.get("phone"),
        },
        "shipping_address": {
            "name": _join(shipping.get("first_name"), shipping.get("last_name")),
            "company": shipping.get("company"),
            "address1": shipping.get("address_1"),
            "address2": shipping.get("address_2"),
            "city": shipping.get("city"),
            "region": shipping.get("state"),
            "postcode": shipping.get("postcode"),
            "country": shipping.get("country"),
            "phone": shipping.get("phone") or billing.get("phone"),
        },
        "lines": lines,
    }
