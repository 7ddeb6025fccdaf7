"""Small admin building blocks shared by the apps."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import Max, Min
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from core.sql import table_row_estimate


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


class LargeTablePaginator(Paginator):
    """A paginator that never counts a whole big table.

    Unfiltered, the count is PostgreSQL's own estimate of the table's rows;
    filtered, rows are counted only up to a cap, so "10,000+" costs no more
    than reading 10,001 index entries.
    """

    cap = 5_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = table_row_estimate(queryset.model._meta.db_table)
            if estimate > self.cap:
                return estimate
        # Only the keys: annotations of the list page need not be computed.
        return queryset.values("pk").order_by()[: self.cap + 1].count()


class RowCheckboxMixin:
    """Lists of many rows per page: the row checkbox written directly."""

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        """Django's row checkbox, the same markup written directly: Django
        renders it through the form widget templates, once per row, which took
        about a quarter of an order-list page (profiled, 50 rows)."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select"'
            ' aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), obj),
        )


class LargeTableAdminMixin(RowCheckboxMixin):
    """List settings for tables with millions of rows."""

    paginator = LargeTablePaginator
    show_full_result_count = False


class _RangeDates:
    """Stands in for a queryset in Django's date_hierarchy: the years, months
    or days offered are the range between the first and last date (two index
    probes) instead of a DISTINCT over every row."""

    def __init__(self, queryset):
        self.queryset = queryset
        self.bounds: dict | None = None

    def aggregate(self, **kwargs):
        self.bounds = self.queryset.aggregate(**kwargs)
        return self.bounds

    def datetimes(self, field: str, kind: str):
        bounds = self.bounds or self.queryset.aggregate(
            first=Min(field), last=Max(field)
        )
        first, last = bounds["first"], bounds["last"]
        if first is None:
            return []
        if isinstance(first, datetime.datetime):
            first, last = (
                timezone.localtime(first).date(),
                timezone.localtime(last).date(),
            )
        values = []
        current = first.replace(month=1, day=1) if kind == "year" else first
        current = current.replace(day=1) if kind == "month" else current
        while current <= last:
            values.append(current)
            if kind == "year":
                current = current.replace(year=current.year + 1)
            elif kind == "month":
                current = (
                    current.replace(day=28) + datetime.timedelta(days=4)
                ).replace(day=1)
            else:
                current += datetime.timedelta(days=1)
        return values

    dates = datetimes


class _ChangeListDates:
    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _RangeDates(changelist.queryset)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def range_date_hierarchy(changelist):
    """Django's date_hierarchy context, computed from date ranges; none for
    search results, which are few and found by their own terms."""
    from django.contrib.admin.templatetags.admin_list import date_hierarchy

    if changelist.query:
        return None
    return date_hierarchy(_ChangeListDates(changelist))


class OptimisticLockAdminMixin:
    """Refuse a save made from a page opened before someone else's change.

    The change form carries the version it was opened at; when the row's
    version has moved on, the form shows an error and nothing is saved.
    """

    conflict_message = (
        "{obj} was changed by someone else while you were editing it; your "
        "changes were not saved. Reload the page to see the new version."
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form
        message = self.conflict_message

        class VersionedForm(form):
            seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.fields["seen_version"].initial = self.instance.version

            def clean(self):
                cleaned = super().clean()
                seen = cleaned.get("seen_version")
                current = (
                    type(self.instance)
                    .objects.filter(pk=self.instance.pk)
                    .values_list("version", flat=True)
                    .first()
                )
                if seen is not None and current != seen:
                    raise forms.ValidationError(message.format(obj=self.instance))
                return cleaned

        return VersionedForm

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        first_name, first = fieldsets[0]
        return [
            (first_name, {**first, "fields": [*first["fields"], "seen_version"]}),
            *fieldsets[1:],
        ]


def retry_report(
    modeladmin,
    request,
    *,
    retried: int,
    skipped: int,
    noun: tuple[str, str],
    skipped_why: str,
) -> None:
    """Tell how many selected jobs a Retry action queued again, and why the
    others were not (`noun` is the singular and plural, e.g. ("import",
    "imports"))."""
    if retried:
        modeladmin.message_user(
            request, f"{retried} {noun[retried != 1]} queued again."
        )
    if skipped:
        modeladmin.message_user(
            request,
            f"{skipped} selected {noun[skipped != 1]} not retried: {skipped_why}",
            messages.WARNING,
        )


LIST_VAR = "list"


def keep_list(request) -> None:
    """Take `list=1` out of the query (the admin would read it as a filter)
    and remember it: the list is shown even for a single hit."""
    if LIST_VAR in request.GET:
        query = request.GET.copy()
        query.pop(LIST_VAR)
        request.GET = query
        request.oms_keep_list = True


def single_hit_redirect(request, response, change_url_name: str):
    """A search that found exactly one object opens it (no list to click
    through); anything else is the list as it was. `?q=…&list=1` keeps the
    list (the object page links back to it)."""
    from django.http import HttpResponseRedirect
    from django.urls import reverse

    cl = getattr(response, "context_data", {}).get("cl") if response else None
    if (
        cl is None
        or not request.GET.get("q", "").strip()
        or getattr(request, "oms_keep_list", False)
        or cl.result_count != 1
        or len(cl.result_list) != 1
    ):
        return response
    (obj,) = cl.result_list
    return HttpResponseRedirect(reverse(change_url_name, args=[obj.pk]))
