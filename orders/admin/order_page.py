"""The order page's parts: the new order's line forms, and the lines and
timeline of an existing order as read-only tables (one query each, no
formsets)."""

from django.contrib import admin
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.limits import FormLimitsMixin
from orders.models import Order, OrderEvent, OrderLine
from orders.routing import routing_text


class OrderLineInline(FormLimitsMixin, admin.TabularInline):
    model = OrderLine
    extra = 1
    fields = [
        "product",
        "quantity",
        "unit_price",
        "sku",
        "name",
        "reserved",
        "quantity_shipped",
    ]
    readonly_fields = ["sku", "name", "reserved", "quantity_shipped"]
    autocomplete_fields = ["product"]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .select_related("product")
            .annotate(reserved_total=Coalesce(Sum("allocations__quantity"), 0))
        )

    @admin.display(description="allocated")
    def reserved(self, obj: OrderLine) -> int:
        return getattr(obj, "reserved_total", 0)

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj else 3

    # Lines are fixed once the order exists; allocation depends on them.
    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_delete_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_add_permission(request, obj)


def event_message_html(event: OrderEvent) -> str:
    """An event's message, linked to the inbound message (API call, shop
    webhook) it came from; an allocation's routing reasons under it."""
    routing = (event.data or {}).get("routing")
    if isinstance(routing, dict) and routing:
        return format_html(
            '{}<div class="oms-routing"><small><strong>Routing:</strong> {}'
            "</small></div>",
            event.message,
            routing_text(routing),
        )
    message_id = (event.data or {}).get("inbound_message")
    if not isinstance(message_id, int):
        return event.message
    url = reverse("admin:connections_inboundmessage_change", args=[message_id])
    return format_html(
        '{} <a href="{}">(message #{})</a>', event.message, url, message_id
    )


def order_timeline_rows(order: Order) -> list[OrderEvent]:
    """The order's events, newest first, each with `message_html` set: the
    order page shows them as a read-only table (one query, no forms)."""
    events = list(
        OrderEvent.objects.filter(order=order)
        .select_related("user")
        .order_by("-created_at", "-pk")
    )
    for event in events:
        event.message_html = event_message_html(event)
    return events


def order_line_rows(order: Order) -> list[OrderLine]:
    """The order's lines with their allocated units (`reserved_total`) and a
    link to each product's page (`product_url`): the read-only lines table of
    the order page (one query, no forms)."""
    lines = list(
        OrderLine.objects.filter(order=order)
        .select_related("product")
        .annotate(reserved_total=Coalesce(Sum("allocations__quantity"), 0))
        .order_by("pk")
    )
    for line in lines:
        line.product_url = (
            reverse("admin:inventory_product_change", args=[line.product_id])
            if line.product_id
            else ""
        )
    return lines
