"""The fulfillment part of the one order admin: the delivery panel (where
each shipment is), the shipments inline, the late and problem filters, search
by tracking number, the warehouse step buttons (create pick list, pack, ship,
deliver) and the pick list and printing actions.

`FulfillmentOrderAdminMixin` is a cooperative mixin: every hook calls
`super()`, so the project composes it with the other apps' parts and
registers the one `OrderAdmin` (in `oms.admin`).
"""

from collections.abc import Mapping

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from core.admin_utils import ReadOnlyInline
from core.exceptions import DomainError
from core.steps import Step
from fulfillment import forms, selectors
from fulfillment.admin.base import FULFIL, PermissionsMixin
from fulfillment.admin.pick_lists import pick_lists_print_url
from fulfillment.admin.printing import print_documents
from fulfillment.models import DocumentKind, Shipment, ShipmentStatus
from fulfillment.services import packing, picking, shipping, tracking
from orders.admin.orders import order_step
from orders.models import Order


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = [
        "number",
        "location",
        "status",
        "pick_list",
        "carrier",
        "tracking_number",
        "shipped_at",
    ]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "Shipments"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("location", "pick_list", "carrier")
        )

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("fulfillment.view_shipment")


FULFILLMENT_STEPS: dict[str, Step] = {
    "start_picking": order_step(
        "Create pick list", FULFIL, picking.order_pick, transitions=("start_picking",)
    ),
    "pack": order_step(
        "Mark packed",
        FULFIL,
        packing.order_pack_shipments,
        forms.PackForm,
        transitions=("pack",),
    ),
    "ship": order_step(
        "Ship",
        FULFIL,
        shipping.order_ship_shipments,
        forms.OrderShipForm,
        transitions=("ship", "ship_partially"),
    ),
    "deliver": order_step(
        "Mark delivered",
        FULFIL,
        tracking.order_deliver_shipments,
        transitions=("deliver",),
    ),
}


def _with_warehouse_steps(steps: Mapping[str, Step]) -> dict[str, Step]:
    """Put the warehouse buttons right after allocating, before hold and cancel."""
    merged: dict[str, Step] = {}
    for name, step in steps.items():
        merged[name] = step
        if name == "allocate":
            merged.update(FULFILLMENT_STEPS)
    return merged | FULFILLMENT_STEPS


class OrderLateFilter(admin.SimpleListFilter):
    """Orders with a shipment on its way past its estimated delivery."""

    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Late shipment (past its estimated delivery)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=selectors.late_shipments().values("order_id"))
        return queryset


class OrderExceptionFilter(admin.SimpleListFilter):
    """Orders with a shipment the carrier reported a problem with."""

    title = "problem in transit"
    parameter_name = "exception"

    def lookups(self, request, model_admin):
        return [("yes", "Shipment with an exception")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                pk__in=Shipment.objects.filter(status=ShipmentStatus.EXCEPTION).values(
                    "order_id"
                )
            )
        return queryset


def _tracking_summary_html(order_id: int) -> str:
    rows = selectors.order_tracking_summary(order_id=order_id)
    if not rows:
        return "No shipment has left yet."
    today = timezone.localdate()

    def arrival(row) -> str:
        if row.delivered_at:
            return format_html(
                "delivered {}",
                timezone.localtime(row.delivered_at).strftime("%d %b %Y %H:%M"),
            )
        if not row.estimated_delivery:
            return "no estimate yet"
        days = (today - row.estimated_delivery).days
        when = row.estimated_delivery.strftime("%a %d %b %Y")
        if row.late:
            return format_html(
                '<strong class="oms-late">{} — {} {} late</strong>',
                when,
                days,
                ngettext("day", "days", days),
            )
        return when

    def tracking(row) -> str:
        if row.tracking_url:
            return format_html(
                '{} <a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                row.carrier,
                row.tracking_url,
                row.tracking_number,
            )
        return f"{row.carrier} {row.tracking_number}".strip() or "—"

    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row.number,
                format_html(
                    '<span class="oms-status oms-status-{}">{}</span>',
                    row.status,
                    row.status_label,
                ),
                tracking(row),
                format_html(
                    "{}<br><small>{}</small>",
                    row.last_news or "—",
                    timezone.localtime(row.last_news_at).strftime("%d %b %H:%M")
                    if row.last_news_at
                    else "",
                ),
                arrival(row),
                format_html("<strong>{}</strong>", row.problem) if row.problem else "—",
            )
            for row in rows
        ),
    )
    return format_html(
        '<table class="oms-tracking"><thead><tr><th>Shipment</th><th>Status</th>'
        "<th>Carrier and tracking</th><th>Latest news</th><th>Arrival</th>"
        "<th>What went wrong</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


class FulfillmentOrderAdminMixin(PermissionsMixin):
    """The order admin's fulfillment panel; put it before the parts it extends."""

    # Extends whatever change form the next part in the MRO renders.
    change_form_template = "admin/fulfillment/order/change_form.html"

    @property
    def steps(self) -> dict[str, Step]:
        return _with_warehouse_steps(super().steps)

    @property
    def actions(self) -> list:
        return [
            *(super().actions or []),
            "create_pick_lists",
            "print_packing_slips",
            "print_shipping_labels",
        ]

    def get_list_filter(self, request: HttpRequest):
        return [
            *super().get_list_filter(request),
            OrderLateFilter,
            OrderExceptionFilter,
        ]

    @property
    def search_help_text(self) -> str:
        return f"{super().search_help_text} Shipment (SH-…) or pick list (PL-…)."

    def search_q(self, term: str):
        """Also find orders by a shipment, pick list or tracking number.

        The matching orders' ids are looked up first (exact, indexed) and
        passed as values, so the whole OR stays an index lookup on a million
        orders."""
        order_ids = selectors.order_ids_for_search(term)
        query = super().search_q(term)
        return query | Q(pk__in=order_ids) if order_ids else query

    @admin.display(description="where it is")
    def tracking_summary(self, obj: Order) -> str:
        return _tracking_summary_html(obj.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "tracking_summary"] if obj is not None else fields

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        delivery = ("Delivery", {"fields": ["tracking_summary"]})
        return [fieldsets[0], delivery, *fieldsets[1:]]

    def get_inlines(self, request: HttpRequest, obj: Order | None):
        inlines = list(super().get_inlines(request, obj))
        # Only orders that have shipments show (and post) the shipments inline;
        # the change page has counted them already (change_view).
        counted = request.__dict__.get("_oms_shipment_count")
        if obj is not None and (
            counted
            if counted is not None
            else Shipment.objects.filter(order=obj).exists()
        ):
            inlines.append(ShipmentInline)
        return inlines

    def change_view(self, request, object_id, form_url="", extra_context=None):
        shipments = Shipment.objects.filter(
            order_id=object_id if str(object_id).isdigit() else None
        )
        available = shipments.aggregate(
            shipments=Count("pk"),
            slips=Count("pk", filter=~Q(status=ShipmentStatus.CANCELLED)),
            labels=Count(
                "pk",
                filter=Q(
                    pk__in=selectors.shipments_with_labels(shipments).values("pk")
                ),
            ),
        )
        if request.method == "GET":
            request._oms_shipment_count = available["shipments"]
        # Only the documents that can be printed now: labels once a shipment
        # is shipped with a carrier and tracking number.
        extra_context = {
            **(extra_context or {}),
            "order_has_shipments": bool(available["shipments"]),
            "order_documents": [
                (action, label)
                for action, label, count in (
                    ("print_packing_slips", "Packing slips", available["slips"]),
                    ("print_shipping_labels", "Labels", available["labels"]),
                )
                if count
            ],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, *args, **kwargs):
        # The add page renders the change form template too.
        context["fulfillment_base_template"] = (
            super().change_form_template or "admin/change_form.html"
        )
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(
        description="Create pick list (one per location)", permissions=["fulfil"]
    )
    def create_pick_lists(self, request, queryset: QuerySet[Order]):
        try:
            wave = picking.pick_lists_create(
                order_ids=list(queryset.values_list("pk", flat=True)),
                actor=request.user,
            )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:fulfillment_picklist_change", args=[p.pk]), p.number)
                for p in wave.pick_lists
            ),
        )
        self.message_user(
            request,
            format_html(
                '{} {} on {} {}. <a href="{}" data-print="wave">Print {}</a>.',
                len(wave.orders),
                ngettext("order", "orders", len(wave.orders)),
                ngettext("pick list", "pick lists", len(wave.pick_lists)),
                links,
                pick_lists_print_url(wave.pick_lists),
                "this pick list" if len(wave.pick_lists) == 1 else "these pick lists",
            ),
            messages.SUCCESS,
        )
        if wave.skipped:
            self.message_user(
                request, "Left out: " + "; ".join(wave.skipped) + ".", messages.WARNING
            )
        return None

    @admin.action(description="Print packing slips", permissions=["print"])
    def print_packing_slips(self, request, queryset: QuerySet[Order]):
        ids = selectors.shipments_of_orders(
            order_ids=list(queryset.values_list("pk", flat=True))
        )
        return print_documents(
            self, request, kind=DocumentKind.PACKING_SLIP, object_ids=ids
        )

    @admin.action(description="Print shipping labels (4×6 in)", permissions=["print"])
    def print_shipping_labels(self, request, queryset: QuerySet[Order]):
        shipments = Shipment.objects.filter(
            order_id__in=list(queryset.values_list("pk", flat=True))
        )
        ids = list(
            selectors.shipments_with_labels(shipments)
            .order_by("number")
            .values_list("pk", flat=True)
        )
        return print_documents(
            self, request, kind=DocumentKind.SHIPPING_LABEL, object_ids=ids
        )
