"""Admin of the inbox: inbound messages, with Replay."""

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from connections.inbox.messages import failed_after_taken_q
from connections.inbox.replay import inbound_replay
from connections.models import InboundMessage
from core.admin_utils import ReadOnlyAdminMixin


class InboundStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    # Failed after it was taken in (the dashboard links here): not an API
    # request refused at once.
    FAILED_TAKEN = "failed_taken"

    def lookups(self, request, model_admin):
        return [
            *InboundMessage.Status.choices,
            (self.FAILED_TAKEN, _("Failed after it was taken in")),
        ]

    def queryset(self, request, queryset):
        if self.value() == self.FAILED_TAKEN:
            return queryset.filter(failed_after_taken_q())
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "channel",
        "source",
        "topic",
        "external_id",
        "status",
        "order_link",
        "short_error",
    ]
    list_filter = [InboundStatusFilter, "source", "channel"]
    list_select_related = ["channel", "order"]
    search_fields = ["external_id", "delivery_id", "idempotency_key"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["replay"]
    fields = [
        "channel",
        "source",
        "topic",
        "status",
        "error",
        "order_link",
        "external_id",
        "delivery_id",
        "idempotency_key",
        "received_at",
        "processed_at",
        "attempts",
        "headers_shown",
        "body_shown",
        "response_status",
    ]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("connections.view_inboundmessage")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("connections.replay_inboundmessage")

    @admin.display(description="order", ordering="order")
    def order_link(self, obj: InboundMessage) -> str:
        if obj.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order.number)

    @admin.display(description="error")
    def short_error(self, obj: InboundMessage) -> str:
        return obj.error if len(obj.error) <= 120 else obj.error[:119] + "…"

    @admin.display(description="headers")
    def headers_shown(self, obj: InboundMessage) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2))

    @admin.display(description="body, as received")
    def body_shown(self, obj: InboundMessage) -> str:
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.body
        return format_html('<pre class="oms-wrap">{}</pre>', text)

    @admin.action(description="Replay the selected messages", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued = 0
        for message in queryset.exclude(status=InboundMessage.Status.RECEIVED):
            inbound_replay(message=message, actor=request.user)
            queued += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d message queued to be processed again; its status shows "
                "the outcome.",
                "%(count)d messages queued to be processed again; their status "
                "shows the outcome.",
                queued,
            )
            % {"count": queued},
            messages.SUCCESS,
        )
