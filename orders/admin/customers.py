"""Admin of channels and customers."""

from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.http import HttpRequest

from core.admin_choices import FilterChoicesForgetOnSave
from core.admin_secrets import WriteOnlySecretAdminMixin
from core.history_admin import FieldHistoryAdmin
from core.limits import FormLimitsMixin
from orders.admin.channel_connection import (
    CONNECTION_SECRETS,
    ChannelConnectionForm,
    access_token_state,
    inbound_secret_state,
)
from orders.models import Channel, Customer
from orders.services.channels import channel_secret_rotate, channel_secret_standard


@admin.register(Channel)
class ChannelAdmin(
    FilterChoicesForgetOnSave,
    WriteOnlySecretAdminMixin,
    FormLimitsMixin,
    admin.ModelAdmin,
):
    list_display = [
        "name",
        "code",
        "kind",
        "platform",
        "send_customer_emails",
        "active",
    ]
    list_filter = ["kind", "platform", "active"]
    search_fields = ["name", "code"]
    # The webhook secret is write-only: set or rotated by managers, never shown.
    secret_field = "webhook_secret"
    # So are the shop's access token and the secret its webhooks are signed with.
    form = ChannelConnectionForm

    def get_exclude(self, request, obj=None):
        return [*super().get_exclude(request, obj), *CONNECTION_SECRETS]

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            access_token_state,
            inbound_secret_state,
        ]

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def secret_rotate(self, obj: Channel, user) -> str:
        return channel_secret_rotate(channel=obj, actor=user)

    def secret_clean(self, value: str) -> str:
        """Store a typed secret in the `whsec_<base64>` form webhooks sign with."""
        secret = channel_secret_standard(value)
        limit = Channel._meta.get_field("webhook_secret").max_length
        if len(secret) > limit:
            raise ValueError(
                f"That secret is {len(secret)} characters long as whsec_<base64>; "
                f"at most {limit} fit. Use a shorter one, or Rotate."
            )
        return secret


@admin.register(Customer)
class CustomerAdmin(FormLimitsMixin, FieldHistoryAdmin):
    list_display = ["email", "name", "phone", "order_count", "created_at"]
    search_fields = ["email", "name", "phone"]
    list_filter = ["accepts_marketing"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(orders_total=Count("orders"))

    @admin.display(description="orders", ordering="orders_total")
    def order_count(self, obj: Customer) -> int:
        return obj.orders_total
