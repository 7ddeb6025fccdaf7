"""The customer-service queue: what customers asked for on their order page
when it was too late to do it themselves."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from core.exceptions import DomainError
from orders.models import CustomerRequest
from orders.services.customer import customer_request_handle

Status = CustomerRequest.Status


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
class CustomerRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
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
    actions = ["mark_done", "mark_declined"]
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
        "handled_note",
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
                f"{handled} request(s) marked {Status(status).label.lower()}.",
                messages.SUCCESS,
            )
        for problem in refused:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(description="Mark the selected requests done", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset) -> None:
        self._handle(request, queryset, Status.DONE)

    @admin.action(description="Decline the selected requests", permissions=["change"])
    def mark_declined(self, request: HttpRequest, queryset) -> None:
        self._handle(request, queryset, Status.DECLINED)
