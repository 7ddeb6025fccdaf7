"""Carriers: who takes the parcels, their services and tracking links."""

from django.contrib import admin

from fulfillment.models import Carrier


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "services", "tracking_url_template", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code"]
