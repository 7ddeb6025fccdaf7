"""Admin for channels, customers and orders. Thin: every change goes through
`orders.services`; domain errors come back as messages."""

from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ExportMixin
from simple_history.admin import SimpleHistoryAdmin

from core.admin_utils import (
    LargeTableAdminMixin,
    OptimisticLockAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
)
from core.exceptions import DomainError
from orders import forms, services
from orders.importing.admin import OrderImportMixin
from orders.models import (
    Channel,
    Customer,
    CustomerEmail,
    ImportJob,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.resources import OrderExportResource
from orders.selectors import order_search_q


@dataclass(frozen=True)
class Step:
    """A button on the order page: which service it runs and who may press it."""

    label: str
    permission: str
    service: Any
    form: type[django_forms.Form] | None = None
    style: str = ""


STEPS: dict[str, Step] = {
    "allocate": Step(
        "Allocate stock", "orders.allocate_order", services.order_allocate
    ),
    "start_picking": Step(
        "Start picking", "orders.fulfil_order", services.order_start_picking
    ),
    "pack": Step("Mark packed", "orders.fulfil_order", services.order_pack),
    "ship": Step("Ship", "orders.fulfil_order", services.order_ship),
    "deliver": Step("Mark delivered", "orders.fulfil_order", services.order_deliver),
    "hold": Step(
        "Put on hold", "orders.hold_order", services.order_hold, forms.HoldForm
    ),
    "release": Step("Release hold", "orders.hold_order", services.order_release),
    "cancel": Step(
        "Cancel order",
        "orders.cancel_order",
        services.order_cancel,
        forms.CancelForm,
        "danger",
    ),
}
# Model transitions that a button stands for.
STEP_OF_TRANSITION = {"ship_partially": "ship", "backorder": None}


def available_steps(
    order: Order, user, steps: dict[str, Step] = STEPS
) -> list[tuple[str, Step]]:
    """Return the buttons this user may press on this order now."""
    names = []
    for transition in order.get_available_status_transitions():
        name = STEP_OF_TRANSITION.get(transition.name, transition.name)
        if name and name in steps and name not in names:
            names.append(name)
    return [
        (name, steps[name])
        for name in steps
        if name in names and user.has_perm(steps[name].permission)
    ]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "send_customer_emails", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "code"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["email", "name", "phone", "order_count", "created_at"]
    search_fields = ["email", "name", "phone"]
    list_filter = ["accepts_marketing"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(orders_total=Count("orders"))

    @admin.display(description="orders", ordering="orders_total")
    def order_count(self, obj: Customer) -> int:
        return obj.orders_total


class OrderLineInline(admin.TabularInline):
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


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "message", "user"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    verbose_name_plural = "Timeline (newest first)"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("user")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.view_order")


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return OrderStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class ShipCountryFilter(admin.SimpleListFilter):
    """Countries the locations ship to (a DISTINCT over the orders is too slow)."""

    title = "ship-to country"
    parameter_name = "ship_country"

    def lookups(self, request, model_admin):
        from inventory.models import Location

        countries = set()
        for location in Location.objects.filter(active=True):
            countries |= location.ships_to_countries | {location.country}
        return [(code, code) for code in sorted(countries)]

    def queryset(self, request, queryset):
        return queryset.filter(ship_country=self.value()) if self.value() else queryset


@admin.register(Order)
class OrderAdmin(
    OrderImportMixin,
    ExportMixin,
    LargeTableAdminMixin,
    OptimisticLockAdminMixin,
    SimpleHistoryAdmin,
):
    list_display = [
        "number",
        "placed_at",
        "channel",
        "external_id",
        "customer_name",
        "status_badge",
        "priority",
        "total_display",
        "ship_country",
    ]
    list_filter = [
        StatusFilter,
        "channel",
        "priority",
        "hold_reason",
        ShipCountryFilter,
    ]
    list_select_related = ["channel", "customer"]
    # Searched by get_search_results: every kind of term through an index.
    search_fields = ["number"]
    search_help_text = (
        "Order number (SO-000123), channel reference, customer e-mail, phone or "
        "name, tracking number."
    )
    date_hierarchy = "placed_at"
    autocomplete_fields = ["customer", "channel"]
    inlines = [OrderLineInline, OrderEventInline]
    change_form_template = "admin/orders/order/change_form.html"
    import_export_change_list_template = (
        "admin/orders/order/change_list_import_export.html"
    )
    resource_classes = [OrderExportResource]
    list_per_page = 50
    # The buttons of the order page; later apps extend or replace them.
    steps: dict[str, Step] = STEPS
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("number", "status", "hold_reason"),
                    ("channel", "external_id"),
                    "customer",
                    ("placed_at", "priority"),
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
            "Money",
            {
                "fields": [
                    "currency",
                    ("subtotal", "shipping_amount", "tax_amount", "total"),
                ]
            },
        ),
    ]

    # ---- list

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
        text = obj.get_status_display()
        if obj.status == OrderStatus.ON_HOLD:
            text += f" ({obj.get_hold_reason_display()})"
        return format_html(
            '<span class="oms-status oms-status-{}">{}</span>', obj.status, text
        )

    @admin.display(description="total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return f"{obj.total} {obj.currency}"

    # ---- change page

    def get_inlines(self, request: HttpRequest, obj: Order | None):
        return self.inlines if obj else [OrderLineInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        always = ["number", "status", "hold_reason", "subtotal", "total"]
        if obj is None:
            return always
        locked = [
            f.name for f in Order._meta.fields if f.name not in services.EDITABLE_FIELDS
        ]
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
        from django.utils import timezone

        return {
            "placed_at": timezone.now(),
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request, obj: Order, form, change: bool) -> None:
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.EDITABLE_FIELDS
            }
            try:
                services.order_update(
                    order=obj,
                    actor=request.user,
                    changes=changes,
                    expected_version=form.cleaned_data.get("seen_version"),
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
        # New orders are created in save_related, once their lines are known.

    def save_related(self, request, form, formsets, change: bool) -> None:
        if change:
            # Lines and events are read-only here; nothing in them is saved.
            super().save_related(request, form, formsets, change)
            return
        order = form.instance
        lines = [
            services.LineInput(
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
        created = services.order_create(
            channel=data["channel"],
            customer=data["customer"],
            external_id=data["external_id"],
            address=services.Address(
                name=data["ship_name"],
                company=data.get("ship_company", ""),
                address1=data["ship_address1"],
                address2=data.get("ship_address2", ""),
                city=data["ship_city"],
                region=data.get("ship_region", ""),
                postcode=data.get("ship_postcode", ""),
                country=data["ship_country"],
                phone=data.get("ship_phone", ""),
            ),
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
        try:
            with transaction.atomic():
                return super()._changeform_view(
                    request, object_id, form_url, extra_context
                )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if order is not None:
            extra_context["order_steps"] = available_steps(
                order, request.user, self.steps
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/step/<str:step>/",
                self.admin_site.admin_view(self.step_view),
                name="orders_order_step",
            ),
            *super().get_urls(),
        ]

    def step_view(
        self, request: HttpRequest, object_id: int, step: str
    ) -> HttpResponse:
        order = get_object_or_404(Order.objects.select_related("channel"), pk=object_id)
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        if step not in self.steps:
            return HttpResponseRedirect(change_url)
        action = self.steps[step]
        if not request.user.has_perm(action.permission):
            raise PermissionDenied
        form = action.form(request.POST or None) if action.form else None
        if request.method == "POST" and (form is None or form.is_valid()):
            arguments = form.cleaned_data if form else {}
            try:
                order = action.service(order=order, actor=request.user, **arguments)
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{action.label}: order {order.number} is now {order.get_status_display()}.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}: {order.number}",
            "opts": self.model._meta,
            "original": order,
            "form": form,
            "step": action,
        }
        return TemplateResponse(request, "admin/orders/order/step.html", context)


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "order",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "quantity_shipped",
    ]
    list_select_related = ["order"]
    search_fields = ["order__number", "sku", "name"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.view_order")


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "order", "kind", "message", "user"]
    list_filter = ["kind"]
    list_select_related = ["order", "user"]
    search_fields = ["order__number", "message"]
    date_hierarchy = "created_at"


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "channel",
        "format",
        "summary",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["channel", "created_by"]
    search_fields = ["filename"]
    date_hierarchy = "created_at"
    exclude = ["source"]

    @admin.display(description="result")
    def summary(self, obj: ImportJob) -> str:
        return (obj.result or obj.preview).get("summary", "")


@admin.register(CustomerEmail)
class CustomerEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "order",
        "kind",
        "to",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["order"]
    search_fields = ["order__number", "to"]
    date_hierarchy = "created_at"
    exclude = ["context"]
