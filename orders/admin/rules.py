"""Orders › Rules: what managers automate (*when … then …*), and a page that
tries a rule on the last 30 days' orders without changing anything."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from core.admin_choices import FilterChoicesForgetOnSave, filter_choices_cached
from core.limits import FormLimitsMixin
from orders.models import Channel, Order, OrderTag, Rule, RuleAction, RuleCondition
from orders.rules.failures import rule_failure_clear
from orders.rules.preview import PREVIEW_DAYS, PREVIEW_LIMIT, rule_preview
from orders.rules.schema import RuleSchemaError, action_parse, condition_parse


class RuleConditionForm(forms.ModelForm):
    class Meta:
        model = RuleCondition
        fields = ["field", "operator", "value"]

    def clean(self):
        data = super().clean()
        if self.errors or data.get("DELETE"):
            return data
        try:
            condition_parse(
                field=data.get("field", ""),
                operator=data.get("operator", ""),
                value=data.get("value", ""),
                channel_codes=set(Channel.objects.values_list("code", flat=True)),
            )
        except RuleSchemaError as error:
            raise forms.ValidationError(str(error)) from None
        return data


class RuleActionForm(forms.ModelForm):
    class Meta:
        model = RuleAction
        fields = ["kind", "value", "location", "note"]

    def clean(self):
        data = super().clean()
        if self.errors or data.get("DELETE"):
            return data
        location = data.get("location")
        try:
            action_parse(
                kind=data.get("kind", ""),
                value=data.get("value", ""),
                note=data.get("note", ""),
                location_id=location.pk if location else None,
                location_code=location.code if location else "",
            )
        except RuleSchemaError as error:
            raise forms.ValidationError(str(error)) from None
        return data


class RuleConditionInline(FormLimitsMixin, admin.TabularInline):
    model = RuleCondition
    form = RuleConditionForm
    extra = 1
    verbose_name = "condition"
    verbose_name_plural = "conditions (if)"


class RuleActionInline(FormLimitsMixin, admin.TabularInline):
    model = RuleAction
    form = RuleActionForm
    extra = 1
    autocomplete_fields = ["location"]
    verbose_name = "action"
    verbose_name_plural = "actions (then)"


@admin.register(Rule)
class RuleAdmin(FormLimitsMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "active",
        "trigger",
        "match",
        "stop_here",
        "failing_since",
        "try_it",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    list_filter = ["active", "trigger", ("failed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    fields = ["name", "position", "active", "trigger", "match", "stop_here", "failing"]
    readonly_fields = ["failing"]
    inlines = [RuleConditionInline, RuleActionInline]

    @admin.display(description=gettext_lazy("failed"), ordering="failed_at")
    def failing_since(self, rule: Rule) -> str:
        if rule.failed_at is None:
            return "—"
        return format_html(
            '<span class="oms-rule-failing" title="{}">{}</span>',
            rule.failure,
            formats.localize(timezone.localtime(rule.failed_at)),
        )

    @admin.display(description=gettext_lazy("failing"))
    def failing(self, rule: Rule) -> str:
        if rule.failed_at is None:
            return gettext("No.")
        return format_html(
            '<span class="errornote oms-rule-failing">{}</span>',
            gettext(
                "Failed %(when)s: %(error)s. The orders it failed on went on "
                "without it, held “Rule failed” with this rule named on their "
                "timeline. Fix the rule and save it to clear this."
            )
            % {
                "when": formats.localize(timezone.localtime(rule.failed_at)),
                "error": rule.failure.rstrip("."),
            },
        )

    @admin.display(description="try it")
    def try_it(self, rule: Rule) -> str:
        url = reverse("admin:orders_rule_try", args=[rule.pk])
        return format_html(
            '<a href="{}">Try on the last {} days</a>', url, PREVIEW_DAYS
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = (extra_context or {}) | {"try_days": PREVIEW_DAYS}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rule_failure_clear(rule=form.instance)

    def get_urls(self):
        return [
            path(
                "<int:rule_id>/try/",
                self.admin_site.admin_view(self.try_view),
                name="orders_rule_try",
            ),
            *super().get_urls(),
        ]

    def try_view(self, request: HttpRequest, rule_id: int):
        """The orders of the last 30 days the rule would match, and what it
        would do to each; nothing is changed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rule = get_object_or_404(Rule, pk=rule_id)
        preview = rule_preview(rule=rule)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule,
            "title": f"Try rule '{rule.name}'",
            "preview": preview,
            "days": PREVIEW_DAYS,
            "limit": PREVIEW_LIMIT,
            "intake": rule.trigger == Rule.Trigger.INTAKE,
        }
        return TemplateResponse(request, "admin/orders/rule/try.html", context)


@admin.register(OrderTag)
class OrderTagAdmin(FilterChoicesForgetOnSave, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


def _order_tags() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in OrderTag.objects.values_list("pk", "name")]


class OrderTagFilter(admin.SimpleListFilter):
    """Orders carrying a tag (a subquery: no DISTINCT over the order list)."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return filter_choices_cached("order_tags", _order_tags)

    def queryset(self, request, queryset):
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        tagged = Order.tags.through.objects.filter(ordertag_id=int(value)).values(
            "order_id"
        )
        return queryset.filter(pk__in=tagged)
