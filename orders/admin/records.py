"""Admin of the records services write: order lines and timeline events,
import jobs and customer e-mails."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin_utils import ReadOnlyAdminMixin, retry_report
from core.history_admin import FieldHistoryAdmin
from core.jobs import jobs_reap
from orders.importing.jobs import import_job_retry
from orders.models import ImportJob, OrderEvent, OrderLine


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "channel",
        "format",
        "summary",
        "attempts",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["channel", "created_by"]
    search_fields = ["filename"]
    date_hierarchy = "created_at"
    exclude = ["source"]
    actions = ["retry"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("source")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.import_orders")

    def changelist_view(self, request, extra_context=None):
        # Runs whose worker died show failed here even with no worker left.
        jobs_reap(models=[ImportJob])
        return super().changelist_view(request, extra_context)

    @admin.display(description="result")
    def summary(self, obj: ImportJob) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:orders_import_job", args=[obj.pk]),
            obj.error or (obj.result or obj.preview).get("summary", ""),
        )

    @admin.action(
        description="Retry the selected failed imports", permissions=["import"]
    )
    def retry(self, request: HttpRequest, queryset) -> None:
        retried = [job for job in queryset if import_job_retry(job=job)]
        retry_report(
            self,
            request,
            retried=len(retried),
            skipped=queryset.count() - len(retried),
            noun=("import", "imports"),
            skipped_why="only imports that failed while running can be (a refused "
            "file needs a corrected upload).",
        )


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdminMixin, FieldHistoryAdmin):
    list_display = [
        "order",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "total",
        "requires_shipping",
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
