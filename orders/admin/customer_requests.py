"""The customer-service queue: what customers asked for on their order page
when it was too late to do it themselves, answered with *Done* or *Decline*
and a reply the customer is e-mailed (here, and on the order's page)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import ngettext

from core.exceptions import DomainError
from core.steps import Step, StepAdminMixin
from orders.models import CustomerRequest
from orders.services.customer import MESSAGE_MAX, customer_request_handle

Status = CustomerRequest.Status
ANSWER = "orders.change_customerrequest"


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label="Reply to the customer",
        required=False,
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="E-mailed to the customer and shown on their order page. "
        "Required to decline: say why.",
    )


def _answer(status: str):
    def run(customer_request: CustomerRequest, user, form) -> str:
        customer_request_handle(
            request=customer_request,
            actor=user,
            status=status,
            reply=form.cleaned_data["reply"],
        )
        return (
            f"Request on order {customer_request.order.number} "
            f"{Status(status).label.lower()}; the customer is e-mailed the reply."
        )

    return run


REQUEST_STEPS = {
    "done": Step("Done", ANSWER, _answer(Status.DONE), ReplyForm, statuses=("open",)),
    "decline": Step(
        "Decline",
        ANSWER,
        _answer(Status.DECLINED),
        ReplyForm,
        "danger",
        statuses=("open",),
    ),
}


class OpenFirstFilter(admin.SimpleListFilter):
    """Open requests by default: the queue."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Status.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}
                ),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(CustomerRequest)
class CustomerRequestAdmin(StepAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "age",
        "order_link",
        "kind",
        "status",
        "short_message",
        "order_status",
        "handled_by",
    ]
    list_filter = [OpenFirstFilter, "kind"]
    list_select_related = ["order", "handled_by"]
    search_fields = ["order__number", "message"]
    ordering = ["created_at", "pk"]
    actions = ["mark_done"]
    steps = REQUEST_STEPS
    step_template = "admin/orders/customerrequest/step.html"
    step_url_name = "orders_customerrequest_step"
    steps_context_name = "request_steps"
    change_form_template = "admin/orders/customerrequest/change_form.html"
    fields = [
        "order",
        "kind",
        "status",
        "message",
        "details",
        "client_address",
        "created_at",
        "handled_at",
        "handled_by",
        "reply",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="order", ordering="order__number")
    def order_link(self, obj: CustomerRequest) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:orders_order_change", args=[obj.order_id]),
            obj.order.number,
        )

    @admin.display(description="waiting", ordering="created_at")
    def age(self, obj: CustomerRequest) -> str:
        if not obj.is_open:
            return "-"
        return timesince(obj.created_at, timezone.now(), depth=1)

    def get_step_success_url(self, request, obj, name, step) -> str:
        """Back where the answer was given: the order's page or the queue."""
        back = request.GET.get("next", "")
        if back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}
        ):
            return back
        return super().get_step_success_url(request, obj, name, step)

    @admin.display(description="order status")
    def order_status(self, obj: CustomerRequest) -> str:
        return obj.order.get_status_display()

    @admin.display(description="message")
    def short_message(self, obj: CustomerRequest) -> str:
        return Truncator(obj.message).chars(80)

    def _handle(self, request: HttpRequest, queryset, status: str) -> None:
        handled, refused = 0, []
        for customer_request in queryset.select_related("order"):
            try:
                customer_request_handle(
                    request=customer_request, actor=request.user, status=status
                )
            except DomainError as error:
                refused.append(f"{customer_request.order.number}: {error}")
            else:
                handled += 1
        if handled:
            self.message_user(
                request,
                ngettext(
                    "%(count)d request marked %(status)s.",
                    "%(count)d requests marked %(status)s.",
                    handled,
                )
                % {"count": handled, "status": Status(status).label.lower()},
                messages.SUCCESS,
            )
        for problem in refused:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(
        description="Mark the selected requests done (the customer is e-mailed)",
        permissions=["change"],
    )
    def mark_done(self, request: HttpRequest, queryset) -> None:
        self._handle(request, queryset, Status.DONE)
