"""Small admin building blocks shared by the apps."""

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For records written only by services: the ledger, allocations, events."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
