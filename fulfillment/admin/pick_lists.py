"""Pick lists: what the warehouse walks to pick, and printing them."""

from django.contrib import admin
from django.db.models import QuerySet

from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline
from fulfillment import selectors
from fulfillment.admin.base import PermissionsMixin, status_badge
from fulfillment.admin.printing import print_documents
from fulfillment.models import DocumentKind, PickList, Shipment


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
        return status_badge(obj)

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
