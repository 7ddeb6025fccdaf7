"""Shipments: the list at scale, tracking entry (one event or a CSV), the
printing actions, and the warehouse steps (pack, ship, deliver, ship from a
CSV)."""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_utils import LargeTableAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from core.exceptions import DomainError
from fulfillment import forms, selectors
from fulfillment.admin import postage as postage_admin
from fulfillment.admin.base import PermissionsMixin, status_badge
from fulfillment.admin.printing import print_documents
from fulfillment.exceptions import BatchRefusedError, TrackingError
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
from fulfillment.postage.labels import zpl_preferred
from fulfillment.services.packing import Parcels, shipments_pack
from fulfillment.services.shipping import (
    ShipmentHandover,
    shipments_ship,
    shipments_ship_many,
)
from fulfillment.services.tracking import (
    shipment_deliver,
    tracking_event_record,
    tracking_updates_record,
)
from orders.models import Order

S = ShipmentStatus


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
            "seen_versions": request.POST.get("seen_versions", ""),
            **context,
        },
    )


def _seen_versions(request, queryset) -> dict[int, int]:
    """The versions of the selected shipments the action form was opened with
    (optimistic locking: the services refuse when one moved on)."""
    seen = {}
    for pair in request.POST.get("seen_versions", "").split(","):
        pk, _, version = pair.partition(":")
        if pk.isdigit() and version.isdigit():
            seen[int(pk)] = int(version)
    selected = set(queryset.filter(pk__in=list(seen)).values_list("pk", flat=True))
    return {pk: version for pk, version in seen.items() if pk in selected}


# A page lists this many problems of a CSV, then says how many more there are.
LISTED_PROBLEMS = 500


def _listed(errors: list[str]) -> dict:
    return {
        "errors": errors[:LISTED_PROBLEMS],
        "more_errors": max(0, len(errors) - LISTED_PROBLEMS),
    }


def _errors_beside_rows(formset, refused: BatchRefusedError) -> None:
    """Put each refused shipment's problem beside its row of the formset."""
    for form in formset.forms:
        problem = refused.by_shipment.get(_form_pk(form))
        if problem:
            form.add_error(None, problem)
    if not refused.by_shipment:
        formset._non_form_errors = formset.error_class(refused.errors)


def _form_pk(form) -> int | None:
    value = form["shipment"].value()
    return int(value) if str(value or "").isdigit() else None


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
        return ExceptionReason.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=S.EXCEPTION, exception_reason=self.value())
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
        badge = status_badge(obj)
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
                            shipment.status != S.CANCELLED,
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
                **_listed(errors),
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
        labelled = selectors.shipments_with_labels(queryset)
        ids = list(labelled.order_by("number").values_list("pk", flat=True))
        skipped = queryset.count() - len(ids)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected shipment(s) get no label: a label is printed "
                "once the shipment is shipped with a carrier and tracking number.",
                messages.WARNING,
            )
        if ids and zpl_preferred(ids):
            return postage_admin.labels_response(self, request, ids)
        return print_documents(
            self, request, kind=DocumentKind.SHIPPING_LABEL, object_ids=ids
        )

    # ---- warehouse steps

    @admin.action(description="Mark packed", permissions=["fulfil"])
    def mark_packed(self, request, queryset: QuerySet[Shipment]):
        picking = list(
            queryset.filter(status=S.PICKING)
            .select_related("order", "location")
            .order_by("number")
        )
        if not picking:
            self.message_user(
                request,
                "None of the selected shipments is being picked; only shipments "
                "on a pick list are packed.",
                messages.WARNING,
            )
            return None
        by_pk = {shipment.pk: shipment for shipment in picking}
        form_kwargs = {"shipment_ids": list(by_pk)}
        if "apply" in request.POST:
            formset = forms.PackRowFormSet(
                request.POST, prefix="pack", form_kwargs=form_kwargs
            )
            if formset.is_valid():
                try:
                    report = shipments_pack(
                        parcels=[
                            Parcels(
                                shipment=by_pk[row["shipment"]],
                                packages=row["packages"],
                                weight_g=row["weight_g"],
                            )
                            for row in formset.cleaned_data
                        ],
                        actor=request.user,
                        expected_versions=_seen_versions(request, queryset),
                    )
                except BatchRefusedError as refused:
                    _errors_beside_rows(formset, refused)
                except DomainError as error:
                    self.message_user(request, str(error), messages.ERROR)
                    return None
                else:
                    _report(self, request, report.done, report.errors, "Packed")
                    return None
            self.message_user(
                request,
                "Nothing was packed: correct the rows marked below and press "
                "Mark packed again.",
                messages.ERROR,
            )
        else:
            weights = selectors.shipment_weights_g(shipment_ids=list(by_pk))
            formset = forms.PackRowFormSet(
                prefix="pack",
                form_kwargs=form_kwargs,
                initial=[
                    {
                        "shipment": pk,
                        "packages": 1,
                        "weight_kg": Decimal(weights[pk]) / 1000,
                    }
                    for pk in by_pk
                ],
            )
        return _action_page(
            self,
            request,
            queryset,
            title="Mark shipments packed",
            action="mark_packed",
            template="admin/fulfillment/shipment/pack.html",
            rows=[(by_pk.get(_form_pk(form)), form) for form in formset.forms],
            formset=formset,
            skipped=len(queryset) - len(picking),
        )

    @admin.action(description="Ship (carrier and tracking)", permissions=["fulfil"])
    def ship(self, request, queryset: QuerySet[Shipment]):
        packed = list(
            queryset.filter(status=S.PACKED)
            .select_related("order", "location", "postage")
            .order_by("number")
        )
        if not packed:
            self.message_user(
                request, "None of the selected shipments is packed.", messages.WARNING
            )
            return None
        by_pk = {shipment.pk: shipment for shipment in packed}
        carriers = selectors.carriers_active()
        form_kwargs = {"shipment_ids": list(by_pk), "carriers": carriers}
        if "apply" in request.POST:
            formset = forms.ShipRowFormSet(
                request.POST, prefix="ship", form_kwargs=form_kwargs
            )
            if formset.is_valid():
                try:
                    report = shipments_ship(
                        handovers=[
                            ShipmentHandover(
                                shipment=by_pk[row["shipment"]],
                                carrier=row["carrier"],
                                service=row["service"],
                                tracking_number=row["tracking_number"],
                            )
                            for row in formset.cleaned_data
                        ],
                        actor=request.user,
                        expected_versions=_seen_versions(request, queryset),
                    )
                except BatchRefusedError as refused:
                    _errors_beside_rows(formset, refused)
                except DomainError as error:
                    self.message_user(request, str(error), messages.ERROR)
                    return None
                else:
                    _report(self, request, report.done, report.errors, "Shipped")
                    return None
            self.message_user(
                request,
                "Nothing was shipped: correct the rows marked below and press "
                "Ship again.",
                messages.ERROR,
            )
        else:
            carrier = selectors.carrier_default(carriers)
            formset = forms.ShipRowFormSet(
                prefix="ship",
                form_kwargs=form_kwargs,
                initial=[
                    {"shipment": pk, "carrier": carrier.pk if carrier else None}
                    for pk in by_pk
                ],
            )
        return _action_page(
            self,
            request,
            queryset,
            title="Ship packed shipments",
            action="ship",
            template="admin/fulfillment/shipment/ship.html",
            rows=[(by_pk.get(_form_pk(form)), form) for form in formset.forms],
            formset=formset,
            skipped=len(queryset) - len(packed),
        )

    @admin.action(description="Mark delivered", permissions=["fulfil"])
    def mark_delivered(self, request, queryset: QuerySet[Shipment]):
        done, errors = [], []
        for shipment in queryset.order_by("number"):
            try:
                shipment_deliver(shipment=shipment, actor=request.user)
                done.append(shipment.number)
            except DomainError as error:
                errors.append(str(error))
        _report(self, request, done, errors, "Delivered")

    def ship_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        form = forms.ShipCsvForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                report = shipments_ship_many(
                    instructions=form.cleaned_data["instructions"],
                    refused_lines=form.cleaned_data["refused_lines"],
                    actor=request.user,
                )
            except BatchRefusedError as refused:
                errors = refused.errors
            else:
                _report(
                    self, request, [s.number for s in report.shipped], [], "Shipped"
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
                **_listed(errors),
            },
        )
