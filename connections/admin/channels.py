"""A channel's page as the place a shop is connected: only its platform's
fields, the webhook address to copy and the topics to subscribe, *Test
connection* (made by a worker, `connections.services.checks`), what was last
received and sent, and the channel's API keys, made and revoked here (a new
key is shown once)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import ngettext

from connections.models import (
    ChannelApiKey,
    ConnectionCheck,
    InboundMessage,
    OutboundMessage,
)
from connections.services.api_keys import (
    channel_api_key_create,
    channel_api_key_revoke,
)
from connections.services.checks import connection_check_request
from connections.shopify.inbound import REFUND_TOPIC
from connections.shopify.inbound import TOPICS as SHOPIFY_TOPICS
from connections.woocommerce.inbound import TOPICS as WOOCOMMERCE_TOPICS
from core.admin_utils import ReadOnlyAdminMixin
from core.steps import Step, StepAdminMixin
from orders.admin.channel_connection import access_token_state, inbound_secret_state
from orders.admin.customers import ChannelAdmin
from orders.models import Channel

Platform = Channel.Platform
CHANGE = "orders.change_channel"
API_KEYS = "connections.add_channelapikey"

# What each platform's shop must be told to send, in the order its admin
# lists them.
WEBHOOK_TOPICS = {
    Platform.SHOPIFY: [*sorted(SHOPIFY_TOPICS), REFUND_TOPIC],
    Platform.WOOCOMMERCE: sorted(WOOCOMMERCE_TOPICS),
}
WEBHOOK_URL_NAMES = {
    Platform.SHOPIFY: "connections:shopify_webhook",
    Platform.WOOCOMMERCE: "connections:woocommerce_webhook",
}


def public_url(path: str) -> str:
    """The address a shop reaches this OMS at (`OMS_PUBLIC_URL`)."""
    return settings.OMS_PUBLIC_URL.rstrip("/") + path


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="What the key is for",
        max_length=ChannelApiKey._meta.get_field("name").max_length,
        required=False,
        help_text="e.g. “ERP export”. The key is shown once, on the next page.",
    )


def _test(channel: Channel, user, form) -> str:
    connection_check_request(channel=channel, actor=user)
    return (
        "Testing the connection: a worker calls the shop now. Its answer shows "
        "under Connection (reload the page in a few seconds)."
    )


def _api_key(channel: Channel, user, form) -> str:
    _, key = channel_api_key_create(channel=channel, name=form.cleaned_data["name"])
    return (
        f"New API key for {channel.code}: {key} — copy it now; it is not shown "
        "again (only its hash is kept)."
    )


CHANNEL_STEPS = {
    "test_connection": Step("Test connection", CHANGE, _test),
    "api_key": Step("Make an API key", API_KEYS, _api_key, form=ApiKeyForm),
}


class ChannelApiKeyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ChannelApiKey
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    verbose_name_plural = (
        "API keys (Make an API key above; revoke them under Connections → API keys)"
    )


admin.site.unregister(Channel)


@admin.register(Channel)
class ChannelConnectionAdmin(StepAdminMixin, ChannelAdmin):
    """The channel's page: its connection to the shop, laid out per platform."""

    inlines = [*ChannelAdmin.inlines, ChannelApiKeyInline]
    change_form_template = "admin/orders/channel/change_form.html"
    steps = CHANNEL_STEPS
    step_template = "admin/orders/channel/step.html"
    step_url_name = "orders_channel_step"
    steps_context_name = "channel_steps"

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            "connection_setup",
            "connection_state",
        ]

    def get_fieldsets(self, request, obj=None):
        secrets = ["new_access_token", access_token_state]
        secrets += ["new_inbound_secret", inbound_secret_state]
        outbound = ["webhook_url", "secret_state", "new_secret"]
        if not self.may_set_secret(request, obj):
            outbound = ["webhook_url", "secret_state"]
        general = (
            None,
            {"fields": ["code", "name", "kind", "platform", "active"]},
        )
        rest = [
            (
                "Orders and stock",
                {
                    "fields": [
                        "accepted_financial_statuses",
                        "send_customer_emails",
                        "push_stock",
                        "cutoff_time",
                        "handling_days",
                        "return_window_days",
                    ]
                },
            ),
            (
                "The customer's order page",
                {
                    "fields": [
                        "display_name",
                        "logo_url",
                        "accent_colour",
                        "support_email",
                    ]
                },
            ),
        ]
        if obj is None:
            # Until the platform is chosen and saved, every way to connect.
            connect = ["shop_domain", *secrets, *outbound]
            return [general, ("Connection", {"fields": connect}), *rest]
        if obj.platform in (Platform.SHOPIFY, Platform.WOOCOMMERCE):
            connection = (
                "Connection",
                {
                    "fields": [
                        "connection_setup",
                        "shop_domain",
                        *secrets,
                        "connection_state",
                    ]
                },
            )
            ours = (
                "Our signed webhooks (optional)",
                {
                    "fields": outbound,
                    "classes": ["collapse"],
                    "description": "Shipment events as Standard Webhooks to an "
                    "address of your own, besides what the shop hears.",
                },
            )
            return [general, connection, *rest, ours]
        connection = (
            "Connection",
            {"fields": ["connection_setup", *outbound, "connection_state"]},
        )
        return [general, connection, *rest]

    @admin.display(description="connect")
    def connection_setup(self, obj: Channel | None) -> str:
        if obj is None or not obj.pk:
            return "-"
        name = WEBHOOK_URL_NAMES.get(obj.platform)
        if name is None:
            return format_html(
                "Orders come in through the order API: <code>POST {}</code> with "
                "<code>Authorization: Bearer &lt;key&gt;</code> (Make an API key "
                "above; the API docs are at <a href='{}'>{}</a>). Shipment and "
                "stock news go to the webhook URL below, signed with its secret.",
                public_url(reverse("api:orders")),
                reverse("api:docs"),
                reverse("api:docs"),
            )
        url = public_url(reverse(name, args=[obj.code]))
        topics = format_html_join(
            ", ", "<code>{}</code>", ((t,) for t in WEBHOOK_TOPICS[obj.platform])
        )
        where = {
            Platform.SHOPIFY: "Shopify admin → Settings → Notifications → Webhooks "
            "(format JSON), or your app's webhook subscriptions",
            Platform.WOOCOMMERCE: "WooCommerce → Settings → Advanced → Webhooks "
            "(API version WP REST API Integration v3), one webhook per topic",
        }[obj.platform]
        return format_html(
            "<div>Webhook address to copy: <code class='oms-copy'>{}</code></div>"
            "<div>Subscribe to: {}</div><div class='help'>In {}. The shop signs "
            "them with the shop webhook secret below.</div>",
            url,
            topics,
            where,
        )

    @admin.display(description="state")
    def connection_state(self, obj: Channel | None) -> str:
        if obj is None or not obj.pk:
            return "-"
        received = (
            InboundMessage.objects.filter(channel=obj)
            .order_by("-received_at", "-pk")
            .only("topic", "status", "received_at", "error")
            .first()
        )
        sent = (
            OutboundMessage.objects.filter(channel=obj)
            .exclude(platform="email")
            .order_by("-created_at", "-pk")
            .only("kind", "status", "created_at", "last_error")
            .first()
        )
        check = ConnectionCheck.objects.filter(channel=obj).first()
        rows = []
        if check is None:
            rows.append(("Test", "never tested (Test connection above)", ""))
        elif check.status == ConnectionCheck.Status.WAITING:
            when = localtime(check.requested_at).strftime("%d %b %Y %H:%M:%S")
            rows.append(("Test", f"waiting for a worker since {when}", ""))
        else:
            when = localtime(check.finished_at).strftime("%d %b %Y %H:%M:%S")
            rows.append(
                (
                    "Test",
                    f"{check.get_status_display()} ({when}): {check.answer}",
                    "oms-ok"
                    if check.status == ConnectionCheck.Status.OK
                    else "oms-bad",
                )
            )
        if received is None:
            rows.append(("Last received", "nothing yet", ""))
        else:
            when = localtime(received.received_at).strftime("%d %b %Y %H:%M")
            rows.append(
                (
                    "Last received",
                    f"{received.topic} · {received.get_status_display()} · {when}",
                    "",
                )
            )
        if sent is None:
            rows.append(("Last sent", "nothing yet", ""))
        else:
            when = localtime(sent.created_at).strftime("%d %b %Y %H:%M")
            text = f"{sent.get_kind_display()} · {sent.get_status_display()} · {when}"
            if sent.last_error:
                text += f" · {sent.last_error}"
            rows.append(("Last sent", text, ""))
        return format_html_join(
            "",
            "<div class='{}'><strong>{}:</strong> {}</div>",
            ((css, label, text) for label, text, css in rows),
        )


@admin.register(ChannelApiKey)
class ChannelApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "channel",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["channel"]
    list_select_related = ["channel"]
    readonly_fields = ["channel", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["channel", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made on the channel's page (Make an API key), shown once

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for api_key in queryset:
            if api_key.revoked_at is None:
                channel_api_key_revoke(api_key=api_key)
                count += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count)
            % {"count": count},
            messages.SUCCESS,
        )
