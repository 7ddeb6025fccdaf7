"""The rows of an admin list, rendered as Django's `result_list` renders them
but with the per-cell work done once per column.

Django resolves every cell from scratch: it looks the column up as a model
field (an exception for each method column), renders each row's action
checkbox through the form-widget templates, reverses and re-resolves the
change URL of each row to add the preserved filters, and the results template
then loops over every cell. On a list of 50-100 rows that is most of the
page's time. Here each column is looked up once, the checkbox and the change
link are formatted directly, and each row reaches the template as one
already-joined string. The HTML is the same (tests compare it).

Lists with inline editing (`list_editable`), popups or `to_field` use
Django's own rendering.
"""

import datetime

from django.contrib.admin import helpers
from django.contrib.admin.options import ModelAdmin
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    _coerce_field_name,
    result_headers,
    result_hidden_fields,
)
from django.contrib.admin.templatetags.admin_list import (
    result_list as django_result_list,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    display_for_field,
    display_for_value,
    lookup_field,
    quote,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


class _Column:
    """One column of the list: how its cells are read and formatted."""

    def __init__(self, changelist, name, index: int, link: bool, tag: str):
        model_admin = changelist.model_admin
        self.name, self.link, self.tag = name, link, tag
        self.css = f"field-{_coerce_field_name(name, index)}"
        self.default_empty = model_admin.get_empty_value_display()
        # A method of the admin or a callable: called directly, as
        # lookup_field would once it found no model field of that name.
        self.call = None
        if callable(name):
            self.call = name
        elif (
            not _is_model_field(changelist.lookup_opts, name)
            and name != "__str__"
            and hasattr(model_admin, name)
        ):
            self.call = getattr(model_admin, name)
        self.checkbox = (
            name == "action_checkbox"
            and getattr(type(model_admin), "action_checkbox", None)
            is ModelAdmin.action_checkbox
        )
        attr = self.call
        self.empty = getattr(attr, "empty_value_display", self.default_empty)
        self.boolean = getattr(attr, "boolean", False)

    def html(self, changelist, result, link_url) -> str:
        """The cell, as `items_for_result` renders it."""
        classes = self.css
        if self.checkbox:
            return _checkbox_cell(result)
        try:
            if self.call is not None:
                field, attr, value = None, self.call, self.call(result)
            else:
                field, attr, value = lookup_field(
                    self.name, result, changelist.model_admin
                )
        except ObjectDoesNotExist:
            text = self.default_empty
        else:
            empty = (
                self.empty
                if self.call is not None
                else getattr(attr, "empty_value_display", self.default_empty)
            )
            if isinstance(value, str) and value.strip() == "":
                value = ""
            if field is None or field.auto_created:
                if self.name == "action_checkbox":
                    classes = "action-checkbox"
                if self.call is not None:
                    boolean = self.boolean
                else:
                    boolean = getattr(attr, "boolean", False)
                    if isinstance(attr, property) and hasattr(attr, "fget"):
                        boolean = getattr(attr.fget, "boolean", False)
                if not boolean and value and type(value) in (str, SafeString):
                    text = value  # what display_for_value returns for it
                else:
                    text = display_for_value(value, empty, boolean)
                if isinstance(value, (datetime.date, datetime.time)):
                    classes += " nowrap"
            else:
                if isinstance(field.remote_field, models.ManyToOneRel):
                    related = getattr(result, field.name)
                    text = empty if related is None else related
                else:
                    text = display_for_field(value, field, empty, avoid_link=self.link)
                if isinstance(
                    field, (models.DateField, models.TimeField, models.ForeignKey)
                ):
                    classes += " nowrap"
        if self.link:
            if link_url is None:
                inner = conditional_escape(text)
            else:
                inner = format_html('<a href="{}">{}</a>', link_url, text)
            return f'<{self.tag} class="{classes}">{inner}</{self.tag}>'
        return f'<td class="{classes}">{conditional_escape(text)}</td>'


def _is_model_field(opts, name) -> bool:
    if callable(name):
        return False
    try:
        field = opts.get_field(name)
    except FieldDoesNotExist:
        return False
    # lookup_field treats these as "not a field" (see _get_non_gfk_field).
    return not (
        field.is_relation
        and ((field.many_to_one and not field.related_model) or field.one_to_many)
    )


def _checkbox_cell(result) -> str:
    """Django's action checkbox (a CheckboxInput rendered from its template)
    in its cell, formatted directly."""
    label = format_html(gettext("Select this object for an action - {}"), str(result))
    return format_html(
        '<td class="action-checkbox"><input type="checkbox" name="{}" value="{}" '
        'class="action-select" aria-label="{}"></td>',
        helpers.ACTION_CHECKBOX_NAME,
        str(result.pk),
        label,
    )


class _Links:
    """The change URL of each row, with the list's filters preserved: Django
    reverses and resolves it again for every row; here the first row's URL
    gives the pattern the others follow."""

    def __init__(self, changelist):
        self.changelist = changelist
        self.pattern: tuple[str, str] | None = None

    def url(self, result) -> str | None:
        if self.pattern is not None:
            head, tail = self.pattern
            return f"{head}/{quote(result.pk)}/{tail}"
        changelist = self.changelist
        try:
            url = changelist.url_for_result(result)
        except NoReverseMatch:
            return None
        full = add_preserved_filters(
            {
                "preserved_filters": changelist.preserved_filters,
                "opts": changelist.opts,
            },
            url,
        )
        key = f"/{quote(result.pk)}/"
        # Only a plain ".../<pk>/change/" URL (no query of its own) is a pattern.
        if "?" not in url and full.startswith(url) and url.count(key) == 1:
            head, _, tail = url.partition(key)
            self.pattern = (head, tail + full[len(url) :])
        return full


def fast_result_list(changelist) -> dict:
    """The context of Django's `result_list` inclusion tag, rows pre-joined."""
    if changelist.formset or changelist.is_popup or changelist.to_field:
        return django_result_list(changelist)
    headers = list(result_headers(changelist))
    links = changelist.list_display_links
    columns, first = [], True
    for index, name in enumerate(changelist.list_display):
        link = links is not None and ((first and not links) or name in links)
        columns.append(
            _Column(changelist, name, index, link, "th" if link and first else "td")
        )
        if link:
            first = False
    urls = _Links(changelist) if any(column.link for column in columns) else None
    rows = []
    for result in changelist.result_list:
        url = urls.url(result) if urls is not None else None
        cells = "".join(column.html(changelist, result, url) for column in columns)
        rows.append(ResultList(None, [mark_safe(cells)]))
    return {
        "cl": changelist,
        "result_hidden_fields": list(result_hidden_fields(changelist)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": rows,
    }
