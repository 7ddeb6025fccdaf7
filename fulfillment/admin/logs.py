"""Read-only logs: tracking events, the channel webhook deliveries made before
the outbox took shipment webhooks over (history), the print log."""

from django.contrib import admin

from core.admin_utils import LargeTableAdminMixin, ReadOnlyAdminMixin
from fulfillment.models import DocumentPrint, TrackingEvent, WebhookDelivery


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
    """Every attempt the old pipeline made to tell a sales channel about a
    shipment, with its answer: history only. Shipment webhooks are outbox
    messages now (Connections → Outbound messages), with their attempts."""

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
        "next_attempt_at",
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
