"""WooCommerce's order resource (as its `order.*` webhooks send it, the REST
API v3 shape) in the order API's shape.

WooCommerce signs each delivery with `X-WC-Webhook-Signature`: the base64 of
the HMAC-SHA256 of the raw body under the webhook's Secret. Saving a webhook
sends a ping, a form-encoded `webhook_id=…` body.
"""

from typing import Any

TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
# Paid and waiting to be shipped: the only state an order is taken in.
IMPORTED_STATUSES = {"processing"}
# The shop gave up on the order: cancel it here too, where that is allowed.
CANCELLED_STATUSES = {"cancelled", "refunded", "failed", "trash"}


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


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
    shipping_lines = resource.get("shipping_lines")
    shipping_lines = (
        [line for line in (shipping_lines or []) if isinstance(line, dict)]
        if isinstance(shipping_lines, list)
        else []
    )
    placed = resource.get("date_created_gmt")
    if isinstance(placed, str) and placed and not placed.endswith("Z"):
        placed += "Z"  # the _gmt dates carry no offset
    line_items = resource.get("line_items")
    lines = [
        {
            "sku": item.get("sku"),
            "quantity": item.get("quantity"),
            "unit_price": item.get("price"),
            "name": item.get("name"),
        }
        for item in (line_items if isinstance(line_items, list) else [])
        if isinstance(item, dict)
    ]
    return {
        "external_id": woocommerce_external_id(resource),
        "placed_at": placed or resource.get("date_created"),
        "currency": resource.get("currency"),
        "shipping_method": shipping_lines[0].get("method_title")
        if shipping_lines
        else "",
        "shipping_amount": resource.get("shipping_total"),
        "tax_amount": resource.get("total_tax"),
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
