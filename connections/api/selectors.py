"""What the API answers about an order and about stock."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from fulfillment.selectors import order_tracking_summary
from inventory.models import Product, StockLevel
from orders.models import Order, OrderLine, OrderStatus

STATUS_TEXT = {
    OrderStatus.PENDING: "Received; stock not reserved yet.",
    OrderStatus.ALLOCATED: "Stock reserved; waiting to be picked.",
    OrderStatus.BACKORDERED: "Waiting for stock to arrive.",
    OrderStatus.PICKING: "Being picked in the warehouse.",
    OrderStatus.PACKED: "Packed; waiting for the carrier.",
    OrderStatus.PARTIALLY_SHIPPED: "Partly shipped; the rest follows.",
    OrderStatus.SHIPPED: "Shipped.",
    OrderStatus.DELIVERED: "Delivered.",
    OrderStatus.ON_HOLD: "On hold.",
    OrderStatus.CANCELLED: "Cancelled.",
}


def _money(value) -> str:
    return f"{value:.2f}"


def _lines_known(order: Order) -> bool:
    """Whether the order's lines are in memory (`prefetch_related`, or the
    rows the intake just wrote)."""
    cache_name = Order._meta.get_field("lines").cache_name
    return cache_name in getattr(order, "_prefetched_objects_cache", {})


def order_detail(
    *, order: Order, new: bool = False, lines: Sequence[OrderLine] | None = None
) -> dict[str, Any]:
    """Return the API's view of an order: status, lines, shipments (2 queries;
    1 for an order `new`ly taken in, which has no shipments yet; none when
    it is still pending and its lines are those just written, or when it is
    an order taken in and not written yet, given with its `lines`)."""
    if lines is not None:
        # Nothing reserved, shipped or returned yet.
        lines = list(lines)
        for line in lines:
            line.allocated = 0
    elif new and order.status == OrderStatus.PENDING and _lines_known(order):
        # A pending order has reserved nothing yet.
        lines = list(order.lines.all())
        for line in lines:
            line.allocated = 0
    else:
        lines = list(
            order.lines.annotate(
                allocated=Coalesce(Sum("allocations__quantity"), 0)
            ).order_by("pk")
        )
    status_text = STATUS_TEXT.get(order.status, order.get_status_display())
    if order.status == OrderStatus.ON_HOLD and order.hold_reason:
        status_text = f"On hold: {order.get_hold_reason_display()}."
    return {
        "number": order.number,
        "external_id": order.external_id,
        "status": order.status,
        "status_text": status_text,
        "hold_reason": order.hold_reason,
        "placed_at": order.placed_at.isoformat(),
        "currency": order.currency,
        "subtotal": _money(order.subtotal),
        "discount_amount": _money(order.discount_amount),
        "discount_codes": list(order.discount_codes or ()),
        "shipping_amount": _money(order.shipping_amount),
        "shipping_discount": _money(order.shipping_discount),
        "tax_amount": _money(order.tax_amount),
        "prices_include_tax": order.prices_include_tax,
        "total": _money(order.total),
        "stated_total": None
        if order.stated_total is None
        else _money(order.stated_total),
        "financial_status": order.financial_status,
        "note": order.note,
        "note_attributes": list(order.note_attributes or ()),
        "shipping_method": order.shipping_method,
        "shipping_address": {
            "name": order.ship_name,
            "company": order.ship_company,
            "address1": order.ship_address1,
            "address2": order.ship_address2,
            "city": order.ship_city,
            "region": order.ship_region,
            "postcode": order.ship_postcode,
            "country": str(order.ship_country),
            "phone": order.ship_phone,
        },
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "discount_amount": _money(line.discount_cents),
                "total": _money(line.line_total),
                "requires_shipping": line.requires_shipping,
                "external_id": line.external_id,
                "allocated": line.allocated,
                "shipped": line.quantity_shipped,
                "returned": line.quantity_returned,
            }
            for line in lines
        ],
        "shipments": [
            {
                "number": shipment.number,
                "status": shipment.status,
                "status_text": shipment.status_label,
                "carrier": shipment.carrier,
                "service": shipment.service,
                "tracking_number": shipment.tracking_number,
                "tracking_url": shipment.tracking_url,
                "estimated_delivery": shipment.estimated_delivery.isoformat()
                if shipment.estimated_delivery
                else None,
                "delivered_at": shipment.delivered_at.isoformat()
                if shipment.delivered_at
                else None,
                "late": shipment.late,
                "exception": shipment.problem,
                "last_news": shipment.last_news,
            }
            for shipment in ([] if new else order_tracking_summary(order_id=order.pk))
        ],
    }


def order_failed_detail(*, message: Any, external_id: str) -> dict[str, Any]:
    """Return the API's view of an order whose message was taken in and then
    failed (an `InboundMessage`): status `failed` with the reason."""
    answered = message.response if isinstance(message.response, dict) else {}
    number = answered.get("number")
    return {
        "number": number if isinstance(number, str) else "",
        "external_id": external_id,
        "status": "failed",
        "status_text": gettext("Taken in, but it could not be written: %(reason)s")
        % {"reason": message.error or gettext("no reason was recorded.")},
        "error": message.error,
        "failed_at": message.processed_at.isoformat() if message.processed_at else None,
    }


def stock_by_sku(*, skus: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Return available stock per SKU and per active location (1 query), and
    the SKUs no product has."""
    levels = (
        StockLevel.objects.filter(product__sku__in=skus, location__active=True)
        .annotate(free=F("on_hand") - F("allocated"))
        .order_by("product__sku", "location__priority", "location__code")
        .values_list("product__sku", "location__code", "location__name", "free")
    )
    by_sku: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sku, code, name, free in levels:
        by_sku[sku].append({"location": code, "name": name, "available": max(free, 0)})

    known = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
    results = [
        {
            "sku": sku,
            "available": sum(level["available"] for level in by_sku[sku]),
            "locations": by_sku[sku],
        }
        for sku in skus
        if sku in known
    ]
    return results, [sku for sku in skus if sku not in known]
