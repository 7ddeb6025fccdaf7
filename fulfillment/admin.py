"""Admin of the warehouse: pick lists, shipments, carriers, the print log and
background print jobs, and the order page routed through shipments.

Thin: every change is a call to `fulfillment.services`, every PDF comes from
`fulfillment.documents`; domain errors come back as messages.
"""

from collections.abc import Sequence

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_utils import LargeTableAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from core.exceptions import DomainError
from core.responses import pdf_response
from fulfillment import documents, forms, selectors, services, tracking
from fulfillment.exceptions import TrackingError
from fulfillment.models import (
    DISPATCHED_STATUSES,
    Carrier,
    DocumentKind,
    DocumentPrint,
    PickList,
    PrintJob,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
    WebhookDelivery,
)
from orders.admin import STEPS, OrderAdmin, Step
from orders.models import Order

FULFIL = "fulfillment.fulfil_shipment"
PRINT = "fulfillment.print_documents"
S = ShipmentStatus
LABEL_STATUSES = [
    S.PACKED,
    S.SHIPPED,
    S.IN_TRANSIT,
    S.OUT_FOR_DELIVERY,
    S.DELIVERED,
    S.EXCEPTION,
]


class PermissionsMixin:
    """`@admin.action(permissions=["fulfil"])` and `["print"]` check these."""

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FULFIL)

    def has_print_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PRINT)


def print_documents(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    kind: str,
    object_ids: Sequence[int],
) -> HttpResponse | None:
    """Answer with the PDF, or queue a background batch when it is large."""
    label = DocumentKind(kind).label.lower()
    if not object_ids:
        modeladmin.message_user(
            request,
            f"Nothing to print: no {label} fits the selection.",
            messages.WARNING,
        )
        return None
    if len(object_ids) > settings.OMS_DOCUMENT_BACKGROUND_FROM:
        job = services.print_job_create(
            kind=kind, object_ids=object_ids, actor=request.user
        )
        modeladmin.message_user(
            request,
            f"{len(object_ids)} {label}s are rendered in the background; download "
            "them here when the bar is full.",
            messages.INFO,
        )
        return HttpResponseRedirect(
            reverse("admin:fulfillment_printjob_progress", args=[job.pk])
        )
    rendered = documents.render(kind, object_ids)
    is_pick_list = kind == DocumentKind.PICK_LIST
    services.document_print_record(
        kind=kind,
        actor=request.user,
        shipment_ids=[] if is_pick_list else object_ids,
        pick_list_ids=object_ids if is_pick_list else [],
        pages=rendered.pages,
    )
    return pdf_response(rendered.pdf, rendered.filename)


def _report(modeladmin, request, done: list[str], errors: list[str], verb: str):
    if done:
        modeladmin.message_user(
            request, f"{verb} {len(done)}: {', '.join(done[:30])}.", messages.SUCCESS
        )
    for error in errors[:30]:
        modeladmin.message_user(request, error, messages.ERROR)
    if len(errors) > 30:
        modeladmin.message_user(
            request, f"… and {len(errors) - 30} more problems.", messages.ERROR
        )


def _action_page(
    modeladmin, request, queryset, *, title, action, template, **context
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "action": action,
            "selected": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def _changed_meanwhile(model_admin, request, queryset) -> bool:
    """Optimistic locking for action forms: refuse when a selected shipment
    changed after the form was opened (its version moved on)."""
    seen = {}
    for pair in request.POST.get("seen_versions", "").split(","):
        pk, _, version = pair.partition(":")
        if pk.isdigit() and version.isdigit():
            seen[int(pk)] = int(version)
    changed = [
        number
        for pk, number, version in queryset.values_list("pk", "number", "version")
        if pk in seen and seen[pk] != version
    ]
    if changed:
        model_admin.message_user(
            request,
            f"{', '.join(sorted(changed))} changed while you were working on "
            "it (someone else acted on it); nothing was done. Check and try again.",
            messages.ERROR,
        )
    return bool(changed)


def _form_pk(form) -> int | None:
    value = form["shipment"].value()
    return int(value) if str(value or "").isdigit() else None


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "services", "tracking_url_template", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code"]


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
        from fulfillment.models import ExceptionReason

        return ExceptionReason.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=S.EXCEPTION, exception_reason=self.value())
        return queryset


def _status_badge(obj) -> str:
    return format_html(
        '<span class="oms-status oms-status-{}">{}</span>',
        obj.status,
        obj.get_status_display(),
    )


@admin.register(Shipment)
class ShipmentAdmin(
    PermissionsMixin, ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin
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
        "location",
        "carrier",
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

    change_form_template = "admin/fulfillment/shipment/change_form.html"
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline, TrackingEventInline]
    actions = [
        "print_packing_slips",
        "print_shipping_labels",
        "mark_packed",
        "ship",
        "mark_delivered",
    ]
    change_list_template = "admin/fulfillment/shipment/change_list.html"
    list_per_page = 100

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Shipment) -> str:
        badge = _status_badge(obj)
        if obj.exception_reason:
            return format_html("{} ({})", badge, obj.get_exception_reason_display())
        return badge

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

    @admin.display(description="weight (kg)")
    def weight_kg(self, obj: Shipment) -> str:
        return obj.weight_kg

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
                event = tracking.tracking_event_record(
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
                report = tracking.tracking_updates_record(
                    updates=form.cleaned_data["updates"],
                    actor=request.user,
                    source=TrackingEvent.Source.CSV,
                )
            except TrackingError as error:
                errors = error.errors[:50]
            else:
                self.message_user(
                    request,
                    f"{len(report.recorded)} tracking event(s) recorded"
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
                "errors": errors,
            },
        )

    # ---- printing

    @admin.action(description="Print packing slips", permissions=["print"])
    def print_packing_slips(self, request, queryset: QuerySet[Shipment]):
        ids = list(
            queryset.exclude(status=S.CANCELLED)
            .order_by("number")
            .values_list("pk", flat=True)
        )
        return print_documents(
            self, request, kind=DocumentKind.PACKING_SLIP, object_ids=ids
        )

    @admin.action(description="Print shipping labels (4×6 in)", permissions=["print"])
    def print_shipping_labels(self, request, queryset: QuerySet[Shipment]):
        ids = list(
            queryset.filter(status__in=LABEL_STATUSES)
            .order_by("number")
            .values_list("pk", flat=True)
        )
        skipped = queryset.exclude(status__in=LABEL_STATUSES).count()
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected shipment(s) are not packed yet and get no label.",
                messages.WARNING,
            )
        return print_documents(
            self, request, kind=DocumentKind.SHIPPING_LABEL, object_ids=ids
        )

    # ---- warehouse steps

    @admin.action(description="Mark packed", permissions=["fulfil"])
    def mark_packed(self, request, queryset: QuerySet[Shipment]):
        form = forms.PackForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and _changed_meanwhile(self, request, queryset):
            return None
        if "apply" in request.POST and form.is_valid():
            done, errors = [], []
            for shipment in queryset.order_by("number"):
                try:
                    services.shipment_pack(
                        shipment=shipment, actor=request.user, **form.cleaned_data
                    )
                    done.append(shipment.number)
                except DomainError as error:
                    errors.append(str(error))
            _report(self, request, done, errors, "Packed")
            return None
        return _action_page(
            self,
            request,
            queryset,
            title="Mark shipments packed",
            action="mark_packed",
            template="admin/fulfillment/shipment/action_form.html",
            form=form,
            button="Mark packed",
        )

    @admin.action(description="Ship (carrier and tracking)", permissions=["fulfil"])
    def ship(self, request, queryset: QuerySet[Shipment]):
        packed = list(
            queryset.filter(status=S.PACKED)
            .select_related("order", "location")
            .order_by("number")
        )
        if not packed:
            self.message_user(
                request, "None of the selected shipments is packed.", messages.WARNING
            )
            return None
        carrier = Carrier.objects.filter(active=True).first()
        if "apply" in request.POST and _changed_meanwhile(self, request, queryset):
            return None
        if "apply" in request.POST:
            formset = forms.ShipRowFormSet(request.POST, prefix="ship")
            if formset.is_valid():
                done, errors = [], []
                for row in formset.cleaned_data:
                    try:
                        services.shipment_ship(
                            shipment=row["shipment"],
                            actor=request.user,
                            carrier=row["carrier"],
                            service=row["service"],
                            tracking_number=row["tracking_number"],
                        )
                        done.append(row["shipment"].number)
                    except DomainError as error:
                        errors.append(str(error))
                _report(self, request, done, errors, "Shipped")
                return None
        else:
            formset = forms.ShipRowFormSet(
                prefix="ship",
                initial=[{"shipment": s.pk, "carrier": carrier} for s in packed],
            )
        by_pk = {shipment.pk: shipment for shipment in packed}
        return _action_page(
            self,
            request,
            queryset,
            title="Ship packed shipments",
            action="ship",
            template="admin/fulfillment/shipment/ship.html",
            rows=[(by_pk.get(_form_pk(form)), form) for form in formset.forms],
            formset=formset,
        )

    @admin.action(description="Mark delivered", permissions=["fulfil"])
    def mark_delivered(self, request, queryset: QuerySet[Shipment]):
        done, errors = [], []
        for shipment in queryset.order_by("number"):
            try:
                services.shipment_deliver(shipment=shipment, actor=request.user)
                done.append(shipment.number)
            except DomainError as error:
                errors.append(str(error))
        _report(self, request, done, errors, "Delivered")

    def ship_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        form = forms.ShipCsvForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            report = services.shipments_ship_many(
                instructions=form.cleaned_data["instructions"], actor=request.user
            )
            _report(
                self,
                request,
                [s.number for s in report.shipped],
                report.errors,
                "Shipped",
            )
            return HttpResponseRedirect(
                reverse("admin:fulfillment_shipment_changelist")
            )
        return TemplateResponse(
            request,
            "admin/fulfillment/shipment/ship_csv.html",
            {
                **self.admin_site.each_context(request),
                "title": "Ship from a CSV",
                "opts": self.model._meta,
                "form": form,
            },
        )


class PickListShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ["number", "order", "status", "packages", "weight_g"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


@admin.register(PickList)
class PickListAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "location",
        "status_badge",
        "shipments",
        "units",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "location"]
    search_fields = ["number", "shipments__number", "shipments__order__number"]
    date_hierarchy = "created_at"
    inlines = [PickListShipmentInline]
    actions = ["print_pick_lists"]

    def get_queryset(self, request):
        return selectors.pick_lists_with_counts()

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: PickList) -> str:
        return _status_badge(obj)

    @admin.display(description="shipments", ordering="shipment_count")
    def shipments(self, obj: PickList) -> int:
        return obj.shipment_count

    @admin.display(description="units", ordering="unit_count")
    def units(self, obj: PickList) -> int:
        return obj.unit_count or 0

    @admin.action(description="Print pick lists", permissions=["print"])
    def print_pick_lists(self, request, queryset: QuerySet[PickList]):
        ids = list(queryset.order_by("number").values_list("pk", flat=True))
        return print_documents(
            self, request, kind=DocumentKind.PICK_LIST, object_ids=ids
        )


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "shipment",
        "status",
        "exception_reason",
        "description",
        "place",
        "estimated_delivery",
        "source",
    ]
    list_filter = ["status", "exception_reason", "source"]
    list_select_related = ["shipment"]
    search_fields = ["=shipment__number", "=shipment__tracking_number"]
    search_help_text = "Shipment or tracking number (exact)."


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """Every attempt to tell a sales channel about a shipment, with its answer."""

    list_display = [
        "created_at",
        "channel",
        "order",
        "shipment",
        "event",
        "attempt",
        "response_code",
        "succeeded",
        "error",
    ]
    list_filter = ["succeeded", "event", "channel"]
    list_select_related = ["channel", "order", "shipment"]
    search_fields = ["=order__number", "=shipment__number"]
    search_help_text = "Order or shipment number (exact)."
    date_hierarchy = "created_at"


@admin.register(DocumentPrint)
class DocumentPrintAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "what", "pages", "background"]
    list_filter = ["kind", "background"]
    list_select_related = ["user"]
    search_fields = ["references", "user__username"]
    date_hierarchy = "created_at"
    exclude = ["shipments", "pick_lists"]

    @admin.display(description="documents")
    def what(self, obj: DocumentPrint) -> str:
        numbers = obj.references[:5]
        more = len(obj.references) - len(numbers)
        return ", ".join(numbers) + (f" and {more} more" if more > 0 else "")


@admin.register(PrintJob)
class PrintJobAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "kind", "status", "progress", "created_by", "created_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
    exclude = ["pdf", "object_ids"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("pdf", "object_ids")

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_print_permission(request)

    def has_module_permission(self, request) -> bool:
        return self.has_print_permission(request)

    @admin.display(description="progress")
    def progress(self, obj: PrintJob) -> str:
        url = reverse("admin:fulfillment_printjob_progress", args=[obj.pk])
        return format_html('<a href="{}">{} of {}</a>', url, obj.done, obj.total)

    def get_urls(self):
        return [
            path(
                "<int:job_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="fulfillment_printjob_progress",
            ),
            path(
                "<int:job_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="fulfillment_printjob_download",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_print_permission(request):
            raise PermissionDenied
        job = get_object_or_404(PrintJob.objects.defer("pdf"), pk=job_id)
        return TemplateResponse(
            request,
            "admin/fulfillment/printjob/progress.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{job.get_kind_display()}s: batch {job.pk}",
                "opts": self.model._meta,
                "job": job,
                "finished": job.status
                in (PrintJob.Status.DONE, PrintJob.Status.FAILED),
            },
        )

    def download_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_print_permission(request):
            raise PermissionDenied
        job = get_object_or_404(PrintJob, pk=job_id)
        try:
            services.print_job_download(job=job, actor=request.user)
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:fulfillment_printjob_progress", args=[job.pk])
            )
        return pdf_response(bytes(job.pdf), job.filename)


# ---- the order page: its warehouse buttons go through shipments


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


FULFILMENT_STEPS: dict[str, Step] = {
    **STEPS,
    "start_picking": Step("Create pick list", FULFIL, services.order_pick),
    "pack": Step("Mark packed", FULFIL, services.order_pack_shipments, forms.PackForm),
    "ship": Step("Ship", FULFIL, services.order_ship_shipments, forms.OrderShipForm),
    "deliver": Step("Mark delivered", FULFIL, services.order_deliver_shipments),
}


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
                pk__in=Shipment.objects.filter(status=S.EXCEPTION).values("order_id")
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
                '<strong class="oms-late">{} — {} day(s) late</strong>', when, days
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


admin.site.unregister(Order)


@admin.register(Order)
class FulfilmentOrderAdmin(PermissionsMixin, OrderAdmin):
    steps = FULFILMENT_STEPS
    change_form_template = "admin/fulfillment/order/change_form.html"
    list_filter = [*OrderAdmin.list_filter, OrderLateFilter, OrderExceptionFilter]
    actions = [
        *(OrderAdmin.actions or []),
        "create_pick_lists",
        "print_packing_slips",
        "print_shipping_labels",
    ]

    def search_q(self, term: str):
        """Also find orders by the exact tracking number of a shipment (indexed).

        The matching orders' ids are looked up first and passed as values, so
        the whole OR stays an index lookup on a million orders."""
        term = term.strip()
        order_ids = list(
            Shipment.objects.filter(
                tracking_number__in={term, term.upper()}
            ).values_list("order_id", flat=True)[:100]
        )
        return super().search_q(term) | Q(pk__in=order_ids)

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
        # Only orders that have shipments show (and post) the shipments inline.
        if obj is not None and Shipment.objects.filter(order=obj).exists():
            inlines.append(ShipmentInline)
        return inlines

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "order_has_shipments": Shipment.objects.filter(order_id=object_id).exists(),
            "order_documents": [
                ("print_packing_slips", "Packing slips"),
                ("print_shipping_labels", "Labels"),
            ],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description="Create pick list (one per location)", permissions=["fulfil"]
    )
    def create_pick_lists(self, request, queryset: QuerySet[Order]):
        try:
            wave = services.pick_lists_create(
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
                "{} order(s) on pick list(s) {}. Print them under Fulfilment › Pick "
                "lists.",
                len(wave.orders),
                links,
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
        ids = selectors.shipments_of_orders(
            order_ids=list(queryset.values_list("pk", flat=True)),
            statuses=LABEL_STATUSES,
        )
        return print_documents(
            self, request, kind=DocumentKind.SHIPPING_LABEL, object_ids=ids
        )
