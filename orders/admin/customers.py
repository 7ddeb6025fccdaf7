"""Admin of channels and customers."""

from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from core.limits import FormLimitsMixin
from orders.models import Channel, Customer


@admin.register(Channel)
class ChannelAdmin(FormLimitsMixin, admin.ModelAdmin):
    list_display = ["name", "code", "kind", "send_customer_emails", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "code"]


@admin.register(Customer)
class CustomerAdmin(FormLimitsMixin, SimpleHistoryAdmin):
    list_display = ["email", "name", "phone", "order_count", "created_at"]
    search_fields = ["email", "name", "phone"]
    list_filter = ["accepts_marketing"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(orders_total=Count("orders"))

    @admin.display(description="orders", ordering="orders_total")
    def order_count(self, obj: Customer) -> int:
        return obj.orders_total
