"""The returns app's part of the one order admin: the return state in the
list (column and filter) and on the page, the order's returns, and the
*Open return* and *Refund* buttons.

`ReturnsOrderAdminMixin` is a cooperative mixin: every hook calls `super()`,
so the project composes it with the other apps' parts and registers the one
`OrderAdmin` (in `oms.admin`).
"""

from django.contrib import admin
from django.db.models import Exists, F, Q
from django.http import HttpRequest

from core.admin_utils import ReadOnlyInline
from orders.models import Order, OrderLine
from returns import selectors
from returns.admin.pages import OPEN, PROPOSE_REFUND
from returns.models import ReturnRequest


class ReturnOfOrderInline(ReadOnlyInline):
    model = ReturnRequest
    fk_name = "order"
    fields = ["number", "status", "resolution", "created_at", "replacement_order"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "Returns"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("replacement_order")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("returns.view_returnrequest")


class ReturnStateFilter(admin.SimpleListFilter):
    title = "returns"
    parameter_name = "returned"

    def lookups(self, request, model_admin):
        return [
            ("none", "None"),
            ("partial", "Partially returned"),
            ("returned", "Returned"),
            ("open", "Open return"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(units_returned=0)
        if value == "partial":
            return queryset.filter(
                units_returned__gt=0, units_returned__lt=F("units_ordered")
            )
        if value == "returned":
            return queryset.filter(
                units_returned__gt=0, units_returned__gte=F("units_ordered")
            )
        if value == "open":
            return queryset.filter(open_return_count__gt=0)
        return queryset


class ReturnsOrderAdminMixin:
    """The order admin's returns panel; put it before the parts it extends."""

    # Extends whatever change form the next part in the MRO renders.
    change_form_template = "admin/returns/order/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return selectors.orders_with_return_units(super().get_queryset(request))

    def get_list_display(self, request: HttpRequest):
        return [*super().get_list_display(request), "return_state"]

    def get_list_filter(self, request: HttpRequest):
        return [*super().get_list_filter(request), ReturnStateFilter]

    @property
    def search_help_text(self) -> str:
        return f"{super().search_help_text} Return (RMA-…) or refund (RF-…)."

    def search_q(self, term: str):
        """Also find orders by the exact number of a return or refund."""
        order_ids = selectors.order_ids_for_search(term)
        query = super().search_q(term)
        return query | Q(pk__in=order_ids) if order_ids else query

    @admin.display(description="returns")
    def return_state(self, obj: Order) -> str:
        state = selectors.return_state(
            units_ordered=obj.units_ordered, units_returned=obj.units_returned
        )
        text = (
            ""
            if state == selectors.ReturnState.NONE
            else selectors.ReturnState.LABELS[state]
        )
        if obj.open_return_count:
            text = ", ".join(filter(None, [text, f"{obj.open_return_count} open"]))
        return text or "–"

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "return_state"] if obj else fields

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Returns", {"fields": ["return_state"]}))
        return fieldsets

    def get_inlines(self, request: HttpRequest, obj: Order | None):
        inlines = list(super().get_inlines(request, obj))
        # Only orders that have returns show (and post) the returns inline;
        # the change page has looked already (change_view).
        known = request.__dict__.get("_oms_has_returns")
        if obj is not None and (
            known
            if known is not None
            else ReturnRequest.objects.filter(order=obj).exists()
        ):
            inlines.append(ReturnOfOrderInline)
        return inlines

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # One query for both: something shipped (a return can be opened), and
        # returns to show (get_inlines).
        pk = object_id if str(object_id).isdigit() else None
        flags = Order.objects.filter(pk=pk).values_list(
            Exists(OrderLine.objects.filter(order_id=pk, quantity_shipped__gt=0)),
            Exists(ReturnRequest.objects.filter(order_id=pk)),
        )
        shipped, has_returns = flags.first() or (False, False)
        if request.method == "GET":
            request._oms_has_returns = has_returns
        extra_context = {
            **(extra_context or {}),
            "can_open_return": request.user.has_perm(OPEN) and shipped,
            "can_refund": request.user.has_perm(PROPOSE_REFUND),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, *args, **kwargs):
        # The add and change pages both render `change_form_template`.
        context["returns_base_template"] = (
            super().change_form_template or "admin/change_form.html"
        )
        return super().render_change_form(request, context, *args, **kwargs)
