"""Scheduled pick waves: the log of what each location's wave times made."""

from django.contrib import admin
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html_join

from core.admin_utils import ReadOnlyAdminMixin
from fulfillment.admin.base import PermissionsMixin
from fulfillment.models import PickList, PickWave


@admin.register(PickWave)
class PickWaveAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["scheduled_for", "location", "order_count", "lists", "note"]
    list_filter = ["location"]
    date_hierarchy = "scheduled_for"
    list_select_related = ["location"]
    fields = ["location", "scheduled_for", "order_count", "lists", "note"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("pick_lists", queryset=PickList.objects.only("pk", "number"))
            )
        )

    @admin.display(description="pick lists")
    def lists(self, obj: PickWave) -> str:
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:fulfillment_picklist_change", args=[p.pk]), p.number)
                for p in obj.pick_lists.all()
            ),
        )
