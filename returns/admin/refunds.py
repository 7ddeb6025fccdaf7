"""Refunds: the list and page, a manager's approve or reject, and a refund on
an order without a return. Every change is a call to
`returns.services.refunds`."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline
from core.exceptions import DomainError
from core.users import Actor
from orders.models import Order
from returns import forms
from returns.admin.pages import (
    APPROVE_REFUND,
    PROPOSE_REFUND,
    STEP_TEMPLATE,
    admin_page,
    order_form_view,
    status_badge,
)
from returns.models import Refund, RefundLine, ReturnRequest
from returns.services.refunds import refund_approve, refund_propose, refund_reject


def refund_from_form(
    *,
    order: Order,
    return_request: ReturnRequest | None,
    actor: Actor,
    form: forms.RefundPartsForm,
    expected_version: int | None = None,
) -> tuple[Refund, str]:
    """Propose the refund the form describes (a manager's reference approves
    it) and return it with the text that tells the user what happened."""
    data = form.cleaned_data
    refund = refund_propose(
        order=order,
        return_request=return_request,
        line_quantities=form.line_quantities(),
        shipping=data["shipping"],
        amount=data["amount"] or 0,
        reason=data["reason"],
        actor=actor,
        external_reference=data.get("external_reference", ""),
        expected_version=expected_version,
    )
    if refund.status == Refund.Status.APPROVED:
        return refund, (
            f"Refund {refund.number} of {refund.amount} {order.currency} "
            "approved; the customer is told."
        )
    return refund, (
        f"Refund {refund.number} of {refund.amount} {order.currency} proposed; "
        "a manager approves it under Returns › Refunds."
    )


class RefundLineInline(ReadOnlyInline):
    model = RefundLine
    fields = ["sku", "quantity", "amount"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    @admin.display(description="SKU")
    def sku(self, obj: RefundLine) -> str:
        return obj.order_line.sku


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "order",
        "return_request",
        "status_badge",
        "amount_display",
        "external_reference",
        "created_by",
        "approved_by",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["order", "return_request", "created_by", "approved_by"]
    search_fields = [
        "number",
        "order__number",
        "return_request__number",
        "external_reference",
    ]
    date_hierarchy = "created_at"
    inlines = [RefundLineInline]
    change_form_template = "admin/returns/refund/change_form.html"
    fields = [
        ("number", "status"),
        ("order", "return_request"),
        ("lines_amount", "shipping_amount", "extra_amount", "amount"),
        "reason",
        "external_reference",
        ("created_by", "created_at"),
        ("approved_by", "decided_at"),
    ]

    # Refunds are proposed through the service (the order refund view).
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(PROPOSE_REFUND)

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(
            reverse("admin:returns_refund_order") + "?" + request.GET.urlencode()
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Refund) -> str:
        return status_badge(obj)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Refund) -> str:
        return f"{obj.amount} {obj.order.currency}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        refund = self.get_object(request, object_id)
        extra_context = extra_context or {}
        extra_context["can_decide"] = bool(
            refund
            and refund.status == Refund.Status.PENDING
            and request.user.has_perm(APPROVE_REFUND)
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("order/", view(self.order_refund_view), name="returns_refund_order"),
            path(
                "<int:object_id>/decide/<str:decision>/",
                view(self.decide_view),
                name="returns_refund_decide",
            ),
            *super().get_urls(),
        ]

    def order_refund_view(self, request: HttpRequest) -> HttpResponse:
        """Refund on an order without a return (late delivery, goodwill)."""
        if not request.user.has_perm(PROPOSE_REFUND):
            raise PermissionDenied

        def submit(order: Order, form: forms.OrderRefundForm) -> tuple[str, str]:
            refund, text = refund_from_form(
                order=order, return_request=None, actor=request.user, form=form
            )
            return reverse("admin:returns_refund_change", args=[refund.pk]), text

        return order_form_view(
            self,
            request,
            lookup_title="Refund an order",
            lookup_intro="A refund without a return (a late delivery, goodwill): "
            "press Refund on the order's page, or give its number here. "
            "Refunds of returned goods start on the return.",
            make_form=lambda order, data: forms.OrderRefundForm(
                data, order=order, user=request.user
            ),
            submit=submit,
            title="Refund on order",
            button="Refund",
        )

    def decide_view(self, request: HttpRequest, object_id: int, decision: str):
        if decision not in ("approve", "reject"):
            return HttpResponseRedirect(
                reverse("admin:returns_refund_change", args=[object_id])
            )
        if not request.user.has_perm(APPROVE_REFUND):
            raise PermissionDenied
        refund = get_object_or_404(
            Refund.objects.select_related("order", "return_request"), pk=object_id
        )
        form_class = (
            forms.RefundApproveForm if decision == "approve" else forms.RefundRejectForm
        )
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                if decision == "approve":
                    refund_approve(
                        refund=refund,
                        actor=request.user,
                        external_reference=form.cleaned_data["external_reference"],
                    )
                else:
                    refund_reject(
                        refund=refund,
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Refund {refund.number} of {refund.amount} "
                    f"{refund.order.currency} {decision}d.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(
                reverse("admin:returns_refund_change", args=[refund.pk])
            )
        return admin_page(
            self,
            request,
            STEP_TEMPLATE,
            f"{decision.capitalize()} refund {refund.number} of "
            f"{refund.amount} {refund.order.currency} (order {refund.order.number})",
            original=refund,
            order=refund.order,
            form=form,
            button=decision.capitalize(),
        )
