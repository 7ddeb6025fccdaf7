"""The one outbox: every message to the shops, channels and customers (shop
APIs, our signed webhooks, e-mails) with its attempts, Replay for managers,
the destinations paused while down, and the channel listings that map SKUs
to shop products."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import ngettext

from connections.models import (
    ChannelListing,
    OutboundAttempt,
    OutboundMessage,
    OutboxDestination,
)
from connections.outbox.services import outbox_replay
from core.admin_utils import LargeTableAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline

REPLAY = "connections.replay_outboundmessage"


class OutboundAttemptInline(ReadOnlyInline):
    model = OutboundAttempt
    fields = [
        "number",
        "started_at",
        "duration_ms",
        "request",
        "response_code",
        "error",
        "response",
        "succeeded",
    ]
    ordering = ["-number"]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """What the shops were told or are about to be told, and how it went."""

    list_display = [
        "created_at",
        "channel",
        "kind",
        "dedupe_key",
        "order",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "kind", "platform", "channel"]
    list_select_related = ["channel", "order"]
    search_fields = ["=order__number", "=dedupe_key", "=shipment__number", "=to"]
    search_help_text = "Order number, shipment number, SKU or e-mail address (exact)."
    date_hierarchy = "created_at"
    inlines = [OutboundAttemptInline]
    actions = ["replay"]
    fields = [
        "channel",
        "platform",
        "kind",
        "dedupe_key",
        "order",
        "shipment",
        "product",
        "to",
        "subject",
        "status",
        "attempts",
        "attempts_left",
        "next_attempt_at",
        "response_code",
        "last_error",
        "remote_id",
        "sequence",
        "sent_quantity",
        "message_id",
        "payload",
        "created_at",
        "sent_at",
    ]

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY)

    @admin.action(description="Replay (send again)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]):
        replayed, skipped = outbox_replay(messages=list(queryset), actor=request.user)
        if replayed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message queued to be sent again; its attempts show "
                    "below it.",
                    "%(count)d messages queued to be sent again; their attempts "
                    "show below each message.",
                    len(replayed),
                )
                % {"count": len(replayed)},
                messages.SUCCESS,
            )
        for reason in skipped[:20]:
            self.message_user(request, f"Not replayed: {reason}", messages.WARNING)


@admin.register(OutboxDestination)
class OutboxDestinationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Where messages go, and which are paused because they do not answer."""

    list_display = ["key", "paused_until", "failures", "last_error", "updated_at"]
    ordering = ["-paused_until", "key"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("connections.view_outboundmessage")


@admin.register(ChannelListing)
class ChannelListingAdmin(admin.ModelAdmin):
    """Which shop product each SKU is, for stock pushes."""

    list_display = [
        "channel",
        "product",
        "shopify_inventory_item_id",
        "shopify_location_id",
        "woocommerce_product_id",
    ]
    list_filter = ["channel"]
    list_select_related = ["channel", "product"]
    search_fields = ["product__sku", "=shopify_inventory_item_id"]
    autocomplete_fields = ["product"]
