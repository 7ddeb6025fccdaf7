"""Pick lists: what the warehouse walks to pick, and printing them and the
documents of their shipments (packing slips, labels)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone

from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline
from fulfillment import selectors
from fulfillment.admin.base import PermissionsMixin, status_badge
from fulfillment.admin.pickconfirm import PickScanInline, confirm_urls
from fulfillment.admin.printing import print_documents
from fulfillment.models import DocumentKind, PickList, Shipment, ShipmentStatus
from fulfillment.services.pickconfirm import pick_list_progress

# The documents of a pick list's shipments, by the name in their URL.
SHIPMENT_DOCUMENTS = {
    "packing-slips": DocumentKind.PACKING_SLIP,
    "labels": DocumentKind.SHIPPING_LABEL,
}


def pick_lists_print_url(pick_lists) -> str:
    """Return the address that prints exactly these pick lists."""
    ids = ",".join(str(pick_list.pk) for pick_list in pick_lists)
    return reverse("admin:fulfillment_picklist_print") + f"?ids={ids}"


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
    inlines = [PickListShipmentInline, PickScanInline]
    actions = ["print_pick_lists"]
    change_form_template = "admin/fulfillment/picklist/change_form.html"

    def get_queryset(self, request):
        return selectors.pick_lists_with_counts()

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: PickList) -> str:
        return status_badge(obj)

    # The pick list's origin: a person's action, or a location's schedule.
    readonly_fields = ["scheduled_wave"]

    @admin.display(description="Scheduled wave")
    def scheduled_wave(self, obj: PickList) -> str:
        waves = [
            f"Scheduled: the {timezone.localtime(wave.scheduled_for):%d %b %H:%M} "
            f"wave at {obj.location.code} ({wave.order_count} orders)"
            for wave in obj.waves.all()
        ]
        return "; ".join(waves) or "Made by hand"

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        if obj is None or not obj.location.confirm_picks:
            return [inline for inline in inlines if inline is not PickScanInline]
        return inlines

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.location.confirm_picks:
            fields.append("pick_confirmation")
        return fields

    @admin.display(description="Pick confirmation")
    def pick_confirmation(self, obj: PickList) -> str:
        """Units picked and short of a list its location confirms by scanning."""
        progress = pick_list_progress(pick_list=obj)
        text = f"{progress['picked']} of {progress['expected']} units picked"
        if progress["short"]:
            text += f", {progress['short']} short"
        return text

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

    def get_urls(self):
        return [
            path(
                "print/",
                self.admin_site.admin_view(self.print_view),
                name="fulfillment_picklist_print",
            ),
            path(
                "<int:pick_list_id>/print/<str:document>/",
                self.admin_site.admin_view(self.shipment_documents_view),
                name="fulfillment_picklist_documents",
            ),
            *confirm_urls(self),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if str(object_id).isdigit():
            extra_context["pick_list_documents"] = self._documents(int(object_id))
            extra_context["pick_list_shipments_url"] = (
                reverse("admin:fulfillment_shipment_changelist")
                + f"?pick_list={object_id}"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _documents(self, pick_list_id: int) -> dict[str, int]:
        """Count the shipments each document of the pick list would print for."""
        shipments = Shipment.objects.filter(pick_list_id=pick_list_id)
        labelled = selectors.shipments_with_labels(shipments).values("pk")
        return shipments.aggregate(
            shipments=Count("pk"),
            slips=Count("pk", filter=~Q(status=ShipmentStatus.CANCELLED)),
            labels=Count("pk", filter=Q(pk__in=labelled)),
        )

    def print_view(self, request: HttpRequest) -> HttpResponse:
        """Print the pick lists `?ids=1,2` (the link after creating a wave)."""
        if not self.has_print_permission(request):
            raise PermissionDenied
        wanted = [
            int(pk) for pk in request.GET.get("ids", "").split(",") if pk.isdigit()
        ][:1000]
        ids = list(
            PickList.objects.filter(pk__in=wanted)
            .order_by("number")
            .values_list("pk", flat=True)
        )
        response = print_documents(
            self, request, kind=DocumentKind.PICK_LIST, object_ids=ids
        )
        return response or HttpResponseRedirect(
            reverse("admin:fulfillment_picklist_changelist")
        )

    def shipment_documents_view(
        self, request: HttpRequest, pick_list_id: int, document: str
    ) -> HttpResponse:
        """Print the packing slips or labels of a pick list's shipments."""
        if not self.has_print_permission(request):
            raise PermissionDenied
        pick_list = get_object_or_404(PickList, pk=pick_list_id)
        change_url = reverse("admin:fulfillment_picklist_change", args=[pick_list.pk])
        kind = SHIPMENT_DOCUMENTS.get(document)
        if kind is None:
            return HttpResponseRedirect(change_url)
        shipments = Shipment.objects.filter(pick_list=pick_list).exclude(
            status=ShipmentStatus.CANCELLED
        )
        if kind == DocumentKind.SHIPPING_LABEL:
            shipments = selectors.shipments_with_labels(shipments)
        ids = list(shipments.order_by("number").values_list("pk", flat=True))
        if not ids and kind == DocumentKind.SHIPPING_LABEL:
            self.message_user(
                request,
                f"No shipment of pick list {pick_list.number} has a label yet: a "
                "label is printed once the shipment is shipped with a carrier and "
                "tracking number.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        response = print_documents(self, request, kind=kind, object_ids=ids)
        return response or HttpResponseRedirect(change_url)
