"""The order admin base: list, search, the change page and its step buttons
(the list's filters and paging in `order_list`, the page's line and
timeline tables in `order_page`).

`OrderAdminBase` is not registered here: `oms.admin` registers the one
`OrderAdmin`, composed from this base and the later apps' mixins. Thin:
every change goes through `orders.services`; domain errors come back as
messages.

Order steps run an order service and report the order's new status; build
them with `order_step` and name the FSM transitions they stand for::

    "pack": order_step("Mark packed", FULFIL, services.order_pack_shipments,
                       forms.PackForm, transitions=("pack",)),

`ORDER_STEPS` are the buttons of this app; a later app's mixin sets
`steps` to its own dict (dict order is button order).
"""

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin

from core.admin_choices import CachedRelatedFieldListFilter
from core.admin_utils import (
    LargeTableAdminMixin,
    OptimisticLockAdminMixin,
    keep_list,
    single_hit_redirect,
)
from core.exceptions import DomainError
from core.history_admin import FieldHistoryAdmin
from core.limits import FormLimitsMixin
from core.steps import Step, StepAdminMixin
from orders import forms
from orders.addresses import Address
from orders.admin.order_list import (
    BEFORE_VAR,
    OrderChangeList,
    OrderListPaginator,
    ShipByFilter,
    ShipCountryFilter,
    StatusFilter,
    parse_before,
    ship_to_html,
    status_badge_html,
)
from orders.admin.order_page import (
    OrderLineInline,
    order_line_rows,
    order_timeline_rows,
)
from orders.admin.rules import OrderTagFilter
from orders.importing.admin import OrderImportMixin
from orders.models import CustomerRequest, Order, OrderLine, OrderStatus
from orders.resources import OrderExportForm, OrderExportResource
from orders.selectors import order_search_q, orders_placed_before
from orders.services import allocation, lifecycle
from orders.services.order_edits import EDITABLE_FIELDS, order_update
from orders.services.orders import LineInput, order_create


def order_step(
    label: str,
    permission: str,
    service: Callable[..., Order],
    form: type[django_forms.Form] | None = None,
    style: str = "",
    *,
    transitions: tuple[str, ...],
) -> Step:
    """A button that calls `service(order=, actor=, **form.cleaned_data)`."""

    def run(order: Order, user, bound_form: django_forms.Form | None) -> str:
        arguments = bound_form.cleaned_data if bound_form else {}
        order = service(order=order, actor=user, **arguments)
        return f"{label}: order {order.number} is now {order.get_status_display()}."

    return Step(label, permission, run, form, style, transitions=transitions)


ORDER_STEPS: dict[str, Step] = {
    "allocate": order_step(
        "Allocate stock",
        "orders.allocate_order",
        allocation.order_allocate,
        transitions=("allocate",),
    ),
    "hold": order_step(
        "Put on hold",
        "orders.hold_order",
        lifecycle.order_hold,
        forms.HoldForm,
        transitions=("hold",),
    ),
    "release": order_step(
        "Release hold",
        "orders.hold_order",
        lifecycle.order_release,
        transitions=("release",),
    ),
    "cancel": order_step(
        "Cancel order",
        "orders.cancel_order",
        lifecycle.order_cancel,
        forms.CancelForm,
        "danger",
        transitions=("cancel",),
    ),
}


# Requests that only read: the change page needs no transaction for them.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class OrderAdminBase(
    FormLimitsMixin,
    StepAdminMixin,
    OrderImportMixin,
    ExportMixin,
    LargeTableAdminMixin,
    OptimisticLockAdminMixin,
    FieldHistoryAdmin,
):
    # Fits a 1024 px laptop beside the filters: the channel's reference sits
    # under the channel, priority is a filter (and on the page).
    list_display = [
        "number",
        "placed_at",
        "channel_reference",
        "customer_name",
        "status_badge",
        "total_display",
        "ship_to",
    ]
    list_filter = [
        StatusFilter,
        ("channel", CachedRelatedFieldListFilter),
        "priority",
        "hold_reason",
        ShipByFilter,
        ShipCountryFilter,
        OrderTagFilter,
    ]
    list_select_related = ["channel", "customer"]
    # Searched by get_search_results: every kind of term through an index.
    search_fields = ["number"]
    search_help_text = (
        "Order number (SO-000123), channel reference, customer e-mail, phone or "
        "name, tracking number."
    )
    date_hierarchy = "placed_at"
    form = forms.OrderForm
    autocomplete_fields = ["customer", "channel"]
    # Only the add page has inline forms (the new order's lines); the change
    # page shows lines and timeline as read-only tables (render_change_form).
    inlines = [OrderLineInline]
    change_form_template = "admin/orders/order/change_form.html"
    import_export_change_list_template = (
        "admin/orders/order/change_list_import_export.html"
    )
    resource_classes = [OrderExportResource]
    export_form_class = OrderExportForm
    list_per_page = 50
    paginator = OrderListPaginator
    # The buttons of the order page; later apps extend or replace them.
    steps: dict[str, Step] = ORDER_STEPS
    step_template = "admin/orders/order/step.html"
    step_url_name = "orders_order_step"
    steps_context_name = "order_steps"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("number", "status", "hold_reason"),
                    ("channel", "external_id"),
                    "customer",
                    ("placed_at", "priority", "ship_by"),
                ]
            },
        ),
        (
            "Ship to",
            {
                "fields": [
                    ("ship_name", "ship_company"),
                    "ship_address1",
                    "ship_address2",
                    ("ship_city", "ship_region", "ship_postcode"),
                    ("ship_country", "ship_phone"),
                    ("shipping_method", "requested_delivery_date"),
                ]
            },
        ),
        (
            "Postage (before the location's preference)",
            {"fields": [("postage_carrier", "postage_service", "rate_preference")]},
        ),
        (
            "Money",
            {
                "fields": [
                    ("currency", "financial_status"),
                    ("subtotal", "discount_amount", "discount_codes_display"),
                    ("shipping_amount", "shipping_discount"),
                    ("tax_display", "total", "stated_total"),
                ]
            },
        ),
        (
            "Notes",
            {"fields": ["note", "note_attributes_display", "customer_emails"]},
        ),
    ]

    # ---- list

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def changelist_view(self, request, extra_context=None):
        """`before=<placed_at>_<id>` lists the orders placed before that one:
        taken out of the query before the admin reads its filters, as is
        `list=1` (show the list even for a single hit)."""
        keep_list(request)
        if BEFORE_VAR in request.GET:
            query = request.GET.copy()
            value = query.pop(BEFORE_VAR)[-1]
            request.GET = query
            request.oms_before = parse_before(value)
            if request.oms_before is None:
                self.message_user(
                    request,
                    f"Ignored before={value!r}: not a position in the order list.",
                    messages.WARNING,
                )
        response = super().changelist_view(request, extra_context)
        return single_hit_redirect(request, response, "admin:orders_order_change")

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        before = getattr(request, "oms_before", None)
        if before is not None:
            queryset = orders_placed_before(queryset, placed_at=before[0], pk=before[1])
        return queryset

    def search_q(self, term: str):
        """The search condition; later apps OR in their own (tracking numbers)."""
        return order_search_q(term)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(self.search_q(search_term)), False

    @admin.display(description="customer", ordering="customer__name")
    def customer_name(self, obj: Order) -> str:
        return obj.customer.name or obj.customer.email

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Order) -> str:
        badge = status_badge_html(obj.status)
        if obj.status == OrderStatus.ON_HOLD:
            return format_html(
                '{} <small class="oms-hold-reason">({})</small>',
                badge,
                obj.get_hold_reason_display(),
            )
        return badge

    @admin.display(description="channel", ordering="channel__name")
    def channel_reference(self, obj: Order) -> str:
        return format_html(
            '{}<br><small class="oms-reference">{}</small>',
            obj.channel.name,
            obj.external_id,
        )

    @admin.display(description="to", ordering="ship_country")
    def ship_to(self, obj: Order) -> str:
        return ship_to_html(str(obj.ship_country or ""))

    @admin.display(description="total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return f"{obj.total} {obj.currency}"

    # ---- change page

    def get_inlines(self, request: HttpRequest, obj: Order | None):
        return [] if obj else [OrderLineInline]

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        """The change page's lines and timeline: read-only tables from two
        queries, no formsets (an order page has 50 lines and 100 events)."""
        if obj is not None and obj.pk:
            lines_inline = OrderLineInline(OrderLine, self.admin_site)
            if lines_inline.has_view_permission(request, obj):
                context["order_lines_table"] = order_line_rows(obj)
            if request.user.has_perm("orders.view_order"):
                context["order_timeline"] = order_timeline_rows(obj)
            if request.user.has_perm("orders.view_customerrequest"):
                # Open requests, answered here with a reply (one query).
                context["order_requests"] = list(
                    CustomerRequest.objects.filter(
                        order_id=obj.pk, status=CustomerRequest.Status.OPEN
                    ).order_by("created_at", "pk")
                )
                context["may_answer_requests"] = request.user.has_perm(
                    "orders.change_customerrequest"
                )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    @admin.display(description="tax")
    def tax_display(self, obj: Order) -> str:
        return obj.tax_text

    @admin.display(description="discount codes")
    def discount_codes_display(self, obj: Order) -> str:
        return ", ".join(obj.discount_codes or ()) or "-"

    @admin.display(description="note attributes")
    def note_attributes_display(self, obj: Order) -> str:
        attributes = obj.note_attributes or []
        if not attributes:
            return "-"
        return format_html_join(
            "",
            "<div><strong>{}:</strong> {}</div>",
            ((a.get("name", ""), a.get("value", "")) for a in attributes),
        )

    @admin.display(description="customer e-mails")
    def customer_emails(self, obj: Order) -> str:
        if not obj.customer.email:
            return (
                "Not sent: the customer gave no e-mail address (phone "
                f"{obj.customer.phone or obj.ship_phone})."
            )
        if not obj.channel.send_customer_emails:
            return f"Not sent: {obj.channel.name} mails its own customers."
        return f"Sent to {obj.customer.email}."

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        always = [
            "number",
            "status",
            "hold_reason",
            "subtotal",
            "total",
            "tax_display",
            "discount_codes_display",
            "note_attributes_display",
            "customer_emails",
        ]
        if obj is None:
            return always
        locked = [f.name for f in Order._meta.fields if f.name not in EDITABLE_FIELDS]
        if not obj.is_editable:
            locked = [f.name for f in Order._meta.fields]
        return sorted(set(always + locked) - {"id"})

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            ("channel", "external_id"),
                            "customer",
                            ("placed_at", "priority"),
                        ]
                    },
                ),
                *self.fieldsets[1:2],
                ("Money", {"fields": ["currency", ("shipping_amount", "tax_amount")]}),
            ]
        return self.fieldsets

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {
            "placed_at": timezone.now(),
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request, obj: Order, form, change: bool) -> None:
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in EDITABLE_FIELDS
            }
            try:
                updated = order_update(
                    order=obj,
                    actor=request.user,
                    changes=changes,
                    expected_version=form.cleaned_data.get("seen_version"),
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                for notice in updated.notices:
                    self.message_user(request, notice, messages.WARNING)
        # New orders are created in save_related, once their lines are known.

    def save_related(self, request, form, formsets, change: bool) -> None:
        if change:
            # Lines and events are read-only here; nothing in them is saved.
            super().save_related(request, form, formsets, change)
            return
        order = form.instance
        lines = [
            LineInput(
                product=row["product"],
                quantity=row["quantity"],
                unit_price=row["unit_price"],
            )
            for formset in formsets
            if formset.model is OrderLine
            for row in formset.cleaned_data
            if row and not row.get("DELETE")
        ]
        data = form.cleaned_data
        created = order_create(
            channel=data["channel"],
            customer=data["customer"],
            external_id=data["external_id"],
            address=Address.from_fields(data),
            lines=lines,
            actor=request.user,
            placed_at=data["placed_at"],
            currency=data["currency"],
            shipping_amount=data["shipping_amount"],
            tax_amount=data["tax_amount"],
            shipping_method=data.get("shipping_method", ""),
            priority=data["priority"],
            requested_delivery_date=data.get("requested_delivery_date"),
        )
        # The admin logs, reports and redirects using the form and formsets.
        order.pk, order.number = created.pk, created.number
        for formset in formsets:
            formset.new_objects = list(created.lines.all())
            formset.changed_objects, formset.deleted_objects = [], []

    def _changeform_view(self, request, object_id, form_url, extra_context):
        if request.method in SAFE_METHODS:  # reading: nothing to roll back
            return super()._changeform_view(request, object_id, form_url, extra_context)
        try:
            with transaction.atomic():
                return super()._changeform_view(
                    request, object_id, form_url, extra_context
                )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_object(self, request, object_id, from_field=None):
        """The order with the channel and customer the page shows; read once
        per page view (the step buttons, the panels and the form all ask)."""
        memo = request.__dict__.setdefault("_oms_orders", {})
        key = (str(object_id), from_field)
        if request.method in SAFE_METHODS and key in memo:
            return memo[key]
        queryset = self.get_queryset(request).select_related("channel", "customer")
        field = (
            Order._meta.pk if from_field is None else Order._meta.get_field(from_field)
        )
        try:
            found = queryset.get(**{field.name: field.to_python(object_id)})
        except (Order.DoesNotExist, ValidationError, ValueError):
            found = None
        if request.method in SAFE_METHODS:
            memo[key] = found
        return found

    def get_step_object(self, request: HttpRequest, object_id: int) -> Order:
        return get_object_or_404(Order.objects.select_related("channel"), pk=object_id)
