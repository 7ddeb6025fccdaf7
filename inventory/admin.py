"""Admin for products, locations, stock and the ledger. Thin: forms call services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin_choices import FilterChoicesForgetOnSave
from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline, RowCheckboxMixin
from core.history_admin import FieldHistoryAdmin
from inventory import forms, selectors, services
from inventory.exceptions import StockError
from inventory.models import Allocation, Location, Product, StockLevel, StockMovement


class StockLevelInline(ReadOnlyInline):
    model = StockLevel
    fields = ["location", "bin", "on_hand", "allocated", "available", "reorder_point"]
    readonly_fields = fields
    verbose_name_plural = "Stock per location"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("location", "product")

    @admin.display(description="available")
    def available(self, obj: StockLevel) -> int:
        return obj.available


@admin.register(Product)
class ProductAdmin(RowCheckboxMixin, FieldHistoryAdmin):
    list_display = ["sku", "name", "barcode", "weight_g", "on_hand", "free", "active"]
    list_filter = ["active"]
    search_fields = ["sku", "name", "barcode"]
    readonly_fields = ["created_at", "movement_history"]
    inlines = [StockLevelInline]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .annotate(
                total_on_hand=Coalesce(Sum("stock_levels__on_hand"), 0),
                total_allocated=Coalesce(Sum("stock_levels__allocated"), 0),
            )
        )

    @admin.display(description="on hand", ordering="total_on_hand")
    def on_hand(self, obj: Product) -> int:
        return obj.total_on_hand

    @admin.display(description="available")
    def free(self, obj: Product) -> int:
        return obj.total_on_hand - obj.total_allocated

    @admin.display(description="movement history (latest 50)")
    def movement_history(self, obj: Product) -> str:
        if not obj.pk:
            return "—"
        movements = selectors.product_movements(product_id=obj.pk)
        if not movements:
            return "No stock movements yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    m.created_at.strftime("%Y-%m-%d %H:%M"),
                    m.location.code,
                    f"{m.delta:+d}",
                    m.get_reason_display(),
                    m.reference,
                    m.user.get_username() if m.user else "system",
                    m.note,
                )
                for m in movements
            ),
        )
        full = (
            reverse("admin:inventory_stockmovement_changelist")
            + f"?product__id__exact={obj.pk}"
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Location</th><th>Change</th>"
            "<th>Reason</th><th>Reference</th><th>User</th><th>Note</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">All movements of this product</a></p>',
            rows,
            full,
        )


@admin.register(Location)
class LocationAdmin(FilterChoicesForgetOnSave, FieldHistoryAdmin):
    list_display = ["code", "name", "kind", "country", "priority", "ships_to", "active"]
    list_filter = ["kind", "country", "active"]
    search_fields = ["code", "name"]


class BelowReorderPointFilter(admin.SimpleListFilter):
    title = "reorder"
    parameter_name = "reorder"

    def lookups(self, request, model_admin):
        return [("below", "Below reorder point")]

    def queryset(self, request, queryset):
        if self.value() == "below":
            below = selectors.stock_levels_below_reorder_point()
            return queryset.filter(pk__in=below.values("pk"))
        return queryset


STOCK_OPERATIONS = {
    "receive": ("Receive stock", forms.ReceiveForm),
    "adjust": ("Adjust stock", forms.AdjustForm),
    "count": ("Cycle count", forms.CountForm),
    "transfer": ("Transfer stock", forms.TransferForm),
}


@admin.register(StockLevel)
class StockLevelAdmin(RowCheckboxMixin, FieldHistoryAdmin):
    list_display = [
        "product",
        "location",
        "bin",
        "on_hand",
        "allocated",
        "available_display",
        "reorder_point",
    ]
    list_filter = [BelowReorderPointFilter, "location"]
    list_select_related = ["product", "location"]
    search_fields = ["product__sku", "product__name", "bin"]
    autocomplete_fields = ["product", "location"]
    readonly_fields = ["on_hand", "allocated", "updated_at", "operations"]
    change_form_template = "admin/inventory/stocklevel/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["on_hand", "allocated"]
        return [*self.readonly_fields, "product", "location"]

    @admin.display(description="available", ordering="-allocated")
    def available_display(self, obj: StockLevel) -> int:
        return obj.available

    @admin.display(description="stock operations")
    def operations(self, obj: StockLevel) -> str:
        return format_html_join(
            " ",
            '<a class="button" href="{}">{}</a>',
            (
                (
                    reverse(
                        "admin:inventory_stocklevel_operation", args=[obj.pk, name]
                    ),
                    label,
                )
                for name, (label, _) in STOCK_OPERATIONS.items()
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:object_id>/stock/<str:operation>/",
                self.admin_site.admin_view(self.operation_view),
                name="inventory_stocklevel_operation",
            ),
            *super().get_urls(),
        ]

    def operation_view(
        self, request: HttpRequest, object_id: int, operation: str
    ) -> HttpResponse:
        if operation not in STOCK_OPERATIONS:
            return HttpResponseRedirect(
                reverse("admin:inventory_stocklevel_change", args=[object_id])
            )
        if not request.user.has_perm("inventory.change_stocklevel"):
            raise PermissionDenied
        level = get_object_or_404(
            StockLevel.objects.select_related("product", "location"), pk=object_id
        )
        title, form_class = STOCK_OPERATIONS[operation]
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                message = self._run_operation(
                    request, level, operation, form.cleaned_data
                )
            except StockError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:inventory_stocklevel_change", args=[level.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {level.product.sku} at {level.location.code}",
            "opts": self.model._meta,
            "original": level,
            "form": form,
            "submit_label": title,
        }
        return TemplateResponse(
            request, "admin/inventory/stock_operation.html", context
        )

    def _run_operation(
        self, request, level: StockLevel, operation: str, data: dict
    ) -> str:
        actor = request.user
        if operation == "receive":
            level = services.stock_receive(
                product=level.product,
                location=level.location,
                quantity=data["quantity"],
                actor=actor,
                reference=data["reference"],
                note=data["note"],
            )
            return f"Received {data['quantity']} × {level.product.sku}; on hand now {level.on_hand}."
        if operation == "adjust":
            level = services.stock_adjust(
                stock_level=level,
                delta=data["delta"],
                reason=data["reason"],
                actor=actor,
                note=data["note"],
            )
            return f"Adjusted {level.product.sku} by {data['delta']:+d}; on hand now {level.on_hand}."
        if operation == "count":
            level = services.stock_count(
                stock_level=level,
                counted=data["counted"],
                actor=actor,
                note=data["note"],
            )
            return f"Counted {level.product.sku}: on hand now {level.on_hand}."
        source, target = services.stock_transfer(
            product=level.product,
            from_location=level.location,
            to_location=data["to_location"],
            quantity=data["quantity"],
            actor=actor,
            note=data["note"],
        )
        return (
            f"Moved {data['quantity']} × {level.product.sku} from {source.location.code} "
            f"to {target.location.code}."
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "product",
        "location",
        "delta",
        "reason",
        "reference",
        "user",
        "note",
    ]
    list_filter = ["reason", "location"]
    list_select_related = ["product", "location", "user"]
    search_fields = ["product__sku", "reference", "note"]
    date_hierarchy = "created_at"


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order_number", "sku", "location", "quantity", "created_at"]
    list_filter = ["stock_level__location"]
    list_select_related = [
        "order_line__order",
        "stock_level__product",
        "stock_level__location",
    ]
    search_fields = ["order_line__order__number", "stock_level__product__sku"]
    date_hierarchy = "created_at"

    @admin.display(description="order", ordering="order_line__order__number")
    def order_number(self, obj: Allocation) -> str:
        return obj.order_line.order.number

    @admin.display(description="SKU")
    def sku(self, obj: Allocation) -> str:
        return obj.stock_level.product.sku

    @admin.display(description="location")
    def location(self, obj: Allocation) -> str:
        return obj.stock_level.location.code
