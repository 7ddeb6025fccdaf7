"""Admin filter choices read from small tables (channels, ship-to countries,
tags, locations, carriers), kept together under one key of the shared cache
(`core.cache`) for at most `OMS_ADMIN_FILTER_CACHE_SECONDS` (0 under pytest:
always read): a big list then reads one cache entry for all its filters
instead of a table per filter. The services and admin pages that change
those tables call `filter_choices_forget`; filtering by a value always works
(the choices are only the links offered)."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin

from core.cache import cache_forget, cache_key, cache_read, cache_store


def filter_choices_key() -> str:
    """The shared cache's key of every filter's choices ({name: choices}),
    labels in the site's one language (`LANGUAGE_CODE`)."""
    return cache_key("admin-filter-choices")


def filter_choices_cached(name: str, load: Callable[[], Any]) -> Any:
    """Return `load()` (plain data: a list of (value, label) pairs), kept in
    the shared cache at most `OMS_ADMIN_FILTER_CACHE_SECONDS`."""
    ttl = getattr(settings, "OMS_ADMIN_FILTER_CACHE_SECONDS", 0)
    if ttl <= 0:
        return load()
    # One entry for all filters: one read per page, however many filters.
    choices = cache_read(filter_choices_key(), per_request=True) or {}
    if name not in choices:
        # A filter another process added meanwhile is read again later.
        choices = {**choices, name: list(load())}
        cache_store(filter_choices_key(), choices, timeout=ttl)
    return choices[name]


def filter_choices_forget() -> None:
    """Read every filter's choices again on the next page view (a channel,
    tag, location or carrier was written)."""
    cache_forget(filter_choices_key())


class FilterChoicesForgetOnSave:
    """For the admin pages of the tables filters offer (channels, tags,
    locations, carriers): a row saved or deleted there shows in (or leaves)
    the filters at once."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        filter_choices_forget()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        filter_choices_forget()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        filter_choices_forget()


class CachedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """Django's filter by a related object (`<field>__id__exact`), its
    choices cached: `list_filter = [("channel", CachedRelatedFieldListFilter)]`."""

    def field_choices(self, field, request, model_admin):
        return filter_choices_cached(
            f"related:{field.model._meta.label}.{field.name}",
            lambda: super(CachedRelatedFieldListFilter, self).field_choices(
                field, request, model_admin
            ),
        )
