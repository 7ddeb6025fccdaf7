"""Admin filter choices read from small tables (channels, ship-to countries,
tags, locations, carriers), kept per process for
`OMS_ADMIN_FILTER_CACHE_SECONDS` (0 under pytest: always read): a big list
then reads no table but its own on most page views. A new channel, tag or
location shows in the filters at most that late; filtering by a value itself
always works (the choices are only the links offered)."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin

# name -> (read at, monotonic seconds; the choices), per process.
_CHOICES: dict[str, tuple[float, Any]] = {}
_LOCK = threading.Lock()


def filter_choices_cached(name: str, load: Callable[[], Any]) -> Any:
    """Return `load()`, read at most every `OMS_ADMIN_FILTER_CACHE_SECONDS`."""
    ttl = getattr(settings, "OMS_ADMIN_FILTER_CACHE_SECONDS", 0)
    if ttl <= 0:
        return load()
    now = time.monotonic()
    with _LOCK:
        kept = _CHOICES.get(name)
        if kept is not None and now - kept[0] < ttl:
            return kept[1]
    value = load()
    with _LOCK:
        _CHOICES[name] = (now, value)
    return value


def filter_choices_forget() -> None:
    """Read every filter's choices again on the next page view."""
    with _LOCK:
        _CHOICES.clear()


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
