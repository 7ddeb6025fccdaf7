"""Shipments: the list at scale, tracking entry (one event or a CSV) and the
printing actions; the warehouse steps are in `shipment_steps`."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_choices import CachedRelatedFieldListFilter
from core.admin_utils import LargeTableAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from core.exceptions import DomainError
from fulfillment import forms, selectors
from fulfillment.admin import postage as postage_admin
from fulfillment.admin.base import PermissionsMixin, status_badge
from fulfillment.admin.packstation import PackScanInline
from fulfillment.admin.printing import print_documents
from fulfillment.admin.shipment_steps import ShipmentStepsMixin, listed
from fulfillment.exceptions import TrackingError
from fulfillment.models import (
    DISPATCHED_STATUSES,
    DocumentKind,
    ExceptionReason,
    PickList,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from fulfillment.postage.labels import shipment_label_text, zpl_preferred
from fulfillment.services.label_warnings import shipment_label_warning_clear
from fulfillment.services.tracking import (
    tracking_event_record,
    tracking_updates_record,
)
from orders.models import Order


class ShipmentLineInline(ReadOnlyInline):
    model = ShipmentLine
    fields = ["sku", "name", "quantity"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    @admin.display(description="SKU")
    def sku(self, obj: ShipmentLine) -> str:
        return obj.order_line.sku

    @admin.display(description="item")
    def name(self, obj: ShipmentLine) -> str:
        return obj.order_line.name


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = [
        "occurred_at",
        "status",
        "exception_reason",
        "place",
        "description",
        "estimated_delivery",
        "source",
        "dated_ahead",
    ]
    readonly_fields = fields
    verbose_name_plural = "Tracking (newest first)"


class LateFilter(admin.SimpleListFilter):
    """On its way past the estimated delivery, not delivered (the dashboard's
    "late" link)."""

    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Late (past the estimated delivery)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return selectors.late_shipments(queryset)
        return queryset


class ExceptionReasonFilter(admin.SimpleListFilter):
    title = "problem in transit"
    parameter_name = "exception_reason"

    def lookups(self, request, model_admin):
        return ExceptionReason.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                status=ShipmentStatus.EXCEPTION, exception_reason=self.value()
            )
        return queryset


class LabelWarningFilter(admin.SimpleListFilter):
    """Labels voided while the carrier had the parcel (the dashboard's link)."""

    title = _("label warning")
    parameter_name = "label_warning"

    def lookups(self, request, model_admin):
        return [("yes", _("Label voided but the parcel travels"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(label_warning_at__isnull=False)
        return queryset


class PickListFilter(admin.SimpleListFilter):
    """The shipments of one pick list (`?pick_list=<id>`, linked from the pick
    list page). Offers no list of pick lists: there are too many."""

    title = "pick list"
    parameter_name = "pick_list"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value or not value.isdigit():
            return []
        number = (
            PickList.objects.filter(pk=value).values_list("number", flat=True).first()
        )
        return [(value, number)] if number else []

    def queryset(self, request, queryset):
        value = self.value()
        if value:
            return queryset.filter(pick_list_id=value if value.isdigit() else None)
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(
    ShipmentStepsMixin,
    PermissionsMixin,
    ReadOnlyAdminMixin,
    LargeTableAdminMixin,
    admin.ModelAdmin,
):
    list_display = [
        "number",
        "order",
        "location",
        "status_badge",
        "pick_list",
        "carrier",
        "tracking",
        "packages",
        "weight_kg",
        "shipped_at",
        "estimated_delivery",
    ]
    list_filter = [
        "status",
        LateFilter,
        ExceptionReasonFilter,
        LabelWarningFilter,
        ("location", CachedRelatedFieldListFilter),
        ("carrier", CachedRelatedFieldListFilter),
        PickListFilter,
    ]
    list_select_related = ["order", "location", "pick_list", "carrier"]
    # Exact matches through unique or indexed columns: the table is large.
    # Exact, case-sensitive lookups through indexes (see get_search_results).
    search_fields = ["number"]
    search_help_text = "Shipment number, tracking number or order number (exact)."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        order_ids = list(
            Order.objects.filter(number=term.upper()).values_list("pk", flat=True)
        )
        return (
            queryset.filter(
                Q(number=term.upper())
                | Q(tracking_number__in={term, term.upper()})
                | Q(order_id__in=order_ids)
            ),
            False,
        )

    readonly_fields = ["postage_label"]
    change_form_template = "admin/fulfillment/shipment/change_form.html"
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline, TrackingEventInline, PackScanInline]
    actions = [
        "print_packing_slips",
        "print_shipping_labels",
        "mark_packed",
        "ship",
        "mark_delivered",
        "clear_label_warning",
    ]
    change_list_template = "admin/fulfillment/shipment/change_list.html"
    list_per_page = 100

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Shipment) -> str:
        badge = status_badge(obj)
        if obj.exception_reason:
            badge = format_html("{} ({})", badge, obj.get_exception_reason_display())
        if obj.label_warning_at:
            badge = format_html(
                '{} <strong title="{}">⚠ {}</strong>',
                badge,
                obj.label_warning,
                _("voided label travels"),
            )
        return badge

    @admin.action(
        description=_("Clear the label warning (carrier contacted)"),
        permissions=["fulfil"],
    )
    def clear_label_warning(self, request, queryset: QuerySet[Shipment]):
        cleared, errors = [], []
        for shipment in queryset.order_by("number"):
            try:
                shipment_label_warning_clear(shipment=shipment, actor=request.user)
                cleared.append(shipment.number)
            except DomainError as error:
                errors.append(str(error))
        if cleared:
            self.message_user(
                request,
                _("Label warning cleared: %(numbers)s.")
                % {"numbers": ", ".join(cleared)},
            )
        for error in errors:
            self.message_user(request, error, messages.WARNING)

    @admin.display(description="tracking", ordering="tracking_number")
    def tracking(self, obj: Shipment) -> str:
        url = obj.tracking_url
        if url:
            return format_html(
                '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                url,
                obj.tracking_number,
            )
        return obj.tracking_number

    @admin.display(description="label bought")
    def postage_label(self, obj: Shipment) -> str:
        """The EasyPost label: its file's format, and a note when EasyPost
        sent another format than the location asks for."""
        return shipment_label_text(obj.pk) if obj and obj.pk else ""

    @admin.display(description="weight (kg)")
    def weight_kg(self, obj: Shipment) -> str:
        return obj.weight_kg

    def change_view(self, request, object_id, form_url="", extra_context=None):
        shipment = (
            Shipment.objects.filter(pk=object_id)
            .only("status", "carrier_id", "tracking_number")
            .first()
            if str(object_id).isdigit()
            else None
        )
        extra_context = extra_context or {}
        if shipment is not None:
            labelled = selectors.shipment_has_label(shipment)
            extra_context |= {
                "shipment_dispatched": shipment.status in DISPATCHED_STATUSES,
                "shipment_documents": [
                    (action, label)
                    for action, label, offered in (
                        (
                            "print_packing_slips",
                            "Packing slip",
                            shipment.status != ShipmentStatus.CANCELLED,
                        ),
                        ("print_shipping_labels", "Label", labelled),
                    )
                    if offered
                ],
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "ship-csv/",
                self.admin_site.admin_view(self.ship_csv_view),
                name="fulfillment_shipment_ship_csv",
            ),
            path(
                "tracking-csv/",
                self.admin_site.admin_view(self.tracking_csv_view),
                name="fulfillment_shipment_tracking_csv",
            ),
            path(
                "<int:shipment_id>/tracking/",
                self.admin_site.admin_view(self.tracking_event_view),
                name="fulfillment_shipment_tracking",
            ),
            *super().get_urls(),
        ]

    # ---- tracking

    def tracking_event_view(self, request: HttpRequest, shipment_id: int):
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        shipment = get_object_or_404(
            Shipment.objects.select_related("order", "carrier"), pk=shipment_id
        )
        change_url = reverse("admin:fulfillment_shipment_change", args=[shipment.pk])
        form = forms.TrackingEventForm(
            request.POST or None, initial={"occurred_at": timezone.localtime()}
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                event = tracking_event_record(
                    shipment=shipment,
                    status=data["status"],
                    occurred_at=data["occurred_at"],
                    actor=request.user,
                    source=TrackingEvent.Source.ADMIN,
                    description=data["description"],
                    place=data["place"],
                    estimated_delivery=data["estimated_delivery"],
                    exception_reason=data["exception_reason"],
                )
            except TrackingError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                if event is None:
                    self.message_user(
                        request,
                        "This event was recorded before; nothing changed.",
                        messages.WARNING,
                    )
                else:
                    shipment.refresh_from_db()
                    self.message_user(
                        request,
                        f"Tracking event recorded: shipment {shipment.number} is "
                        f"{shipment.get_status_display().lower()}.",
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(change_url)
        return TemplateResponse(
            request,
            "admin/fulfillment/shipment/tracking_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Tracking event for {shipment.number}",
                "opts": self.model._meta,
                "original": shipment,
                "form": form,
                "dispatched": shipment.status in DISPATCHED_STATUSES,
            },
        )

    def tracking_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        form = forms.TrackingCsvForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                report = tracking_updates_record(
                    updates=form.cleaned_data["updates"],
                    refused_lines=form.cleaned_data["refused_lines"],
                    actor=request.user,
                    source=TrackingEvent.Source.CSV,
                )
            except TrackingError as error:
                errors = error.errors
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d tracking event recorded",
                        "%(count)d tracking events recorded",
                        len(report.recorded),
                    )
                    % {"count": len(report.recorded)}
                    + (
                        f", {report.duplicates} already known and skipped."
                        if report.duplicates
                        else "."
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:fulfillment_shipment_changelist")
                )
        return TemplateResponse(
            request,
            "admin/fulfillment/shipment/tracking_csv.html",
            {
                **self.admin_site.each_context(request),
                "title": "Tracking events from a CSV",
                "opts": self.model._meta,
                "form": form,
                **listed(errors),
            },
        )

    # ---- printing

    @admin.action(description="Print packing slips", permissions=["print"])
    def print_packing_slips(self, request, queryset: QuerySet[Shipment]):
        ids = list(
            queryset.exclude(status=ShipmentStatus.CANCELLED)
            .order_by("number")
            .values_list("pk", flat=True)
        )
        return print_documents(
            self, request, kind=DocumentKind.PACKING_SLIP, object_ids=ids
        )

    @admin.action(description="Print shipping labels (4×6 in)", permissions=["print"])
    def print_shipping_labels(self, request, queryset: QuerySet[Shipment]):
        labelled = selectors.shipments_with_labels(queryset)
        ids = list(labelled.order_by("number").values_list("pk", flat=True))
        skipped = queryset.count() - len(ids)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected shipment gets no label",
                    "%(count)d selected shipments get no label",
                    skipped,
                )
                % {"count": skipped}
                + ": a label is printed once the shipment is shipped with a carrier "
                "and tracking number.",
                messages.WARNING,
            )
        if ids and zpl_preferred(ids):
            return postage_admin.labels_response(self, request, ids)
        return print_documents(
            self, request, kind=DocumentKind.SHIPPING_LABEL, object_ids=ids
        )
