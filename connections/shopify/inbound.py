"""Shopify's order resource (as its `orders/*` webhooks send it) in the
order API's shape.

Shopify signs each webhook with `X-Shopify-Hmac-Sha256`: the base64 of the
HMAC-SHA256 of the raw body under the app's client secret (or the secret
shown for webhooks made under Settings → Notifications).
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

TOPICS = {"orders/create", "orders/updated", "orders/cancelled"}


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return amount if amount.is_finite() else Decimal("0")


def shopify_external_id(resource: Any) -> str:
    """Return the order's name (`#1001`), its reference in the CSV export too."""
    if not isinstance(resource, dict):
        return ""
    name = resource.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    number = resource.get("order_number") or resource.get("id")
    return f"#{number}" if isinstance(number, int | str) and number else ""


def shopify_order_body(resource: dict) -> dict:
    """Return the order API body for a Shopify order resource."""
    customer = (
        resource.get("customer") if isinstance(resource.get("customer"), dict) else {}
    )
    address = resource.get("shipping_address")
    if not isinstance(address, dict):
        address = {}
    shipping_lines = resource.get("shipping_lines")
    if not isinstance(shipping_lines, list):
        shipping_lines = []
    shipping_lines = [line for line in shipping_lines if isinstance(line, dict)]
    shipping_amount = sum(
        (_amount(line.get("price", "0")) for line in shipping_lines), Decimal("0")
    )
    line_items = resource.get("line_items")
    lines = [
        {
            "sku": item.get("sku"),
            "quantity": item.get("quantity"),
            "unit_price": item.get("price"),
            "name": item.get("name") or item.get("title"),
        }
        for item in (line_items if isinstance(line_items, list) else [])
        if isinstance(item, dict)
    ]
    return {
        "external_id": shopify_external_id(resource),
        "placed_at": resource.get("processed_at") or resource.get("created_at"),
        "currency": resource.get("currency"),
        "shipping_method": shipping_lines[0].get("title") if shipping_lines else "",
        "shipping_amount": str(shipping_amount),
        "tax_amount": resource.get("total_tax"),
        "customer": {
            "email": resource.get("email")
            or resource.get("contact_email")
            or customer.get("email"),
            "name": _join(customer.get("first_name"), customer.get("last_name")),
            "phone": customer.get("phone") or resource.get("phone"),
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
