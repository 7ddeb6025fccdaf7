"""Carriers: who takes the parcels, their services and tracking links."""

from django.contrib import admin

from core.admin_choices import FilterChoicesForgetOnSave
from core.admin_secrets import WriteOnlySecretAdminMixin
from fulfillment.models import Carrier
from fulfillment.services.carriers import carrier_token_rotate


@admin.register(Carrier)
class CarrierAdmin(
    FilterChoicesForgetOnSave, WriteOnlySecretAdminMixin, admin.ModelAdmin
):
    list_display = ["name", "code", "services", "tracking_url_template", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code"]
    # The token is write-only: set or rotated by managers, never shown again.
    secret_field = "webhook_token"

    def secret_rotate(self, obj: Carrier, user) -> str:
        return carrier_token_rotate(carrier=obj, actor=user)
