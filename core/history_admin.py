"""The admin's History page of a tracked model: its field history, read-only."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from pghistory.models import Events

from core.history import RELATED_NAME

# The newest changes shown; older ones stay in the event table.
EVENTS_SHOWN = 200


def history_rows(obj, *, limit: int = EVENTS_SHOWN) -> list[dict]:
    """Return the newest field-history events of `obj`, newest first: when,
    what happened, who, why and each changed field as (label, old, new)."""
    event_model = obj._meta.get_field(RELATED_NAME).related_model
    events = list(
        Events.objects.across(event_model).tracks(obj).order_by("-pgh_id")[:limit]
    )
    user_ids = {
        event.pgh_context.get("user")
        for event in events
        if event.pgh_context and event.pgh_context.get("user")
    }
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids)}
    labels = {field.attname: capfirst(field.verbose_name) for field in obj._meta.fields}
    rows = []
    for event in events:
        context = event.pgh_context or {}
        if event.pgh_label == "insert":
            changes = [
                (labels.get(name, name), None, value)
                for name, value in sorted(event.pgh_data.items())
                if name in labels and value not in (None, "", [], {})
            ]
        else:
            changes = [
                (labels.get(name, name), old, new)
                for name, (old, new) in sorted((event.pgh_diff or {}).items())
                if name in labels
            ]
        rows.append(
            {
                "at": event.pgh_created_at,
                "label": event.pgh_label,
                "user": users.get(context.get("user")),
                "reason": context.get("reason") or context.get("url") or "",
                "changes": changes,
            }
        )
    return rows


class FieldHistoryAdmin(admin.ModelAdmin):
    """A ModelAdmin whose History page lists the object's field changes (who,
    when, old → new, why) from its `core.history.tracked` events."""

    object_history_template = "admin/field_history.html"

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Field history: {obj}",
            "subtitle": None,
            "rows": history_rows(obj),
            "shown": EVENTS_SHOWN,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "opts": self.opts,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)
