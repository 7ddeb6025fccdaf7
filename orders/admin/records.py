"""Admin of the records services write: import jobs and customer e-mails."""

from django.contrib import admin

from core.admin_utils import ReadOnlyAdminMixin
from orders.models import CustomerEmail, ImportJob


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
