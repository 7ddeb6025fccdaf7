"""Admin of returns and refunds, the returns report, and the order page
with its return state and an *Open return* button.

Thin: every change is a call to `returns.services`; domain errors come back
as messages. The order admin is the fulfilment one, extended.
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline
from core.charts import horizontal_bars
from core.exceptions import DomainError
from core.formulas import escape_formula
from core.responses import pdf_response
from fulfillment.admin import FulfilmentOrderAdmin
from orders.models import Order
from returns import documents, forms, selectors, services
from returns.models import (
    Refund,
    RefundLine,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
)

OPEN = "returns.add_returnrequest"
APPROVE = "returns.approve_return"
RECEIVE = "returns.receive_return"
RESOLVE = "returns.resolve_return"
PROPOSE_REFUND = "returns.add_refund"
APPROVE_REFUND = "returns.approve_refund"
REPORT = "returns.view_return_report"
S = ReturnStatus


def _status_badge(obj) -> str:
    return format_html(
        '<span class="oms-status oms-status-{}">{}</span>',
        obj.status,
        obj.get_status_display(),
    )


# ---- the steps of a return page


@dataclass(frozen=True)
class ReturnStep:
    """A button on the return page: who may press it, in which states, the
    form it asks and the service call it makes (returns the success text)."""

    label: str
    permission: str
    statuses: tuple[str, ...]
    form: type[forms.StepForm]
    run: Callable[[ReturnRequest, object, forms.StepForm], str]
    style: str = ""


def _approve(rma, user, form) -> str:
    services.return_approve(
        return_request=rma, actor=user, message=form.cleaned_data["message"]
    )
    return f"Return {rma.number} approved; the customer gets the return label."


def _reject(rma, user, form) -> str:
    services.return_reject(
        return_request=rma, actor=user, message=form.cleaned_data["message"]
    )
    return f"Return {rma.number} rejected; the customer is told why."


def _receive(rma, user, form) -> str:
    services.return_receive(
        return_request=rma, actor=user, quantities=form.quantities()
    )
    return f"Return {rma.number} received. Now record the condition of each item."


def _inspect(rma, user, form) -> str:
    services.return_inspect(
        return_request=rma, actor=user, inspections=form.inspections()
    )
    return f"Return {rma.number} inspected; stock is booked."


def refund_from_form(*, order, return_request, user, form) -> tuple[Refund, str]:
    """Propose the refund the form describes; a manager's reference approves it."""
    data = form.cleaned_data
    reference = data.get("external_reference", "")
    with transaction.atomic():
        refund = services.refund_create(
            order=order,
            return_request=return_request,
            line_quantities=form.line_quantities(),
            shipping=data["shipping"],
            amount=data["amount"] or 0,
            reason=data["reason"],
            actor=user,
        )
        if reference:
            services.refund_approve(
                refund=refund, actor=user, external_reference=reference
            )
            return refund, (
                f"Refund {refund.number} of {refund.amount} {order.currency} "
                "approved; the customer is told."
            )
    return refund, (
        f"Refund {refund.number} of {refund.amount} {order.currency} proposed; "
        "a manager approves it under Returns › Refunds."
    )


def _refund(rma, user, form) -> str:
    return refund_from_form(order=rma.order, return_request=rma, user=user, form=form)[
        1
    ]


def _exchange(rma, user, form) -> str:
    replacement = services.return_exchange(
        return_request=rma, actor=user, items=form.items()
    )
    return (
        f"Return {rma.number} exchanged: replacement order {replacement.number} is "
        f"{replacement.get_status_display()}."
    )


def _close(rma, user, form) -> str:
    services.return_close(
        return_request=rma, actor=user, note=form.cleaned_data["note"]
    )
    return f"Return {rma.number} closed."


RETURN_STEPS: dict[str, ReturnStep] = {
    "approve": ReturnStep(
        "Approve", APPROVE, (S.REQUESTED,), forms.ApproveForm, _approve
    ),
    "reject": ReturnStep(
        "Reject", APPROVE, (S.REQUESTED,), forms.RejectForm, _reject, "danger"
    ),
    "receive": ReturnStep(
        "Receive", RECEIVE, (S.APPROVED,), forms.ReceiveForm, _receive
    ),
    "inspect": ReturnStep(
        "Inspect", RECEIVE, (S.RECEIVED,), forms.InspectForm, _inspect
    ),
    "refund": ReturnStep(
        "Refund", PROPOSE_REFUND, (S.INSPECTED, S.REFUNDED), forms.RefundForm, _refund
    ),
    "exchange": ReturnStep(
        "Exchange", RESOLVE, (S.INSPECTED,), forms.ExchangeForm, _exchange
    ),
    "close": ReturnStep("Close", RESOLVE, (S.INSPECTED,), forms.CloseForm, _close),
}


def available_return_steps(rma: ReturnRequest, user) -> list[tuple[str, ReturnStep]]:
    """Return the buttons this user may press on this return now."""
    return [
        (name, step)
        for name, step in RETURN_STEPS.items()
        if rma.status in step.statuses and user.has_perm(step.permission)
    ]


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = [
        "sku",
        "item",
        "quantity",
        "reason",
        "quantity_received",
        "condition",
        "restock_location",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("order_line", "restock_location")
        )

    @admin.display(description="SKU")
    def sku(self, obj: ReturnLine) -> str:
        return obj.order_line.sku

    @admin.display(description="item")
    def item(self, obj: ReturnLine) -> str:
        return obj.order_line.name


class RefundOfReturnInline(ReadOnlyInline):
    model = Refund
    fields = ["number", "status", "amount", "external_reference", "approved_by"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "Refunds"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("approved_by")


class ReturnUnitsMixin:
    def get_queryset(self, request: HttpRequest):
        lines = (
            ReturnLine.objects.filter(return_request=OuterRef("pk"))
            .order_by()
            .values("return_request")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                units=Coalesce(
                    Subquery(lines.annotate(n=Sum("quantity")).values("n")[:1]),
                    0,
                    output_field=IntegerField(),
                ),
                units_received=Coalesce(
                    Subquery(
                        lines.annotate(n=Sum("quantity_received")).values("n")[:1]
                    ),
                    0,
                    output_field=IntegerField(),
                ),
            )
        )


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReturnUnitsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "number",
        "order",
        "customer",
        "status_badge",
        "resolution",
        "units_display",
        "created_at",
        "replacement_order",
    ]
    list_filter = ["status", "resolution", "lines__reason", "order__channel"]
    list_select_related = ["order__customer", "replacement_order"]
    search_fields = [
        "number",
        "order__number",
        "order__customer__email",
        "order__customer__name",
    ]
    date_hierarchy = "created_at"
    inlines = [ReturnLineInline, RefundOfReturnInline]
    actions = ["approve_returns"]
    change_form_template = "admin/returns/returnrequest/change_form.html"
    change_list_template = "admin/returns/returnrequest/change_list.html"
    list_per_page = 100
    fields = [
        ("number", "status", "resolution"),
        ("order", "replacement_order"),
        "customer_note",
        "decision_message",
        ("created_by", "created_at"),
        ("decided_at", "received_at", "inspected_at", "resolved_at"),
    ]
    readonly_fields = [
        "number",
        "status",
        "resolution",
        "order",
        "replacement_order",
        "customer_note",
        "decision_message",
        "created_by",
        "created_at",
        "decided_at",
        "received_at",
        "inspected_at",
        "resolved_at",
    ]

    # Opening goes through the service (the open view), never a model form.
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(OPEN)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE)

    @admin.display(description="customer", ordering="order__customer__name")
    def customer(self, obj: ReturnRequest) -> str:
        return obj.order.customer.name or obj.order.customer.email

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ReturnRequest) -> str:
        return _status_badge(obj)

    @admin.display(description="units (received)", ordering="units")
    def units_display(self, obj: ReturnRequest) -> str:
        if obj.status in (S.REQUESTED, S.APPROVED, S.REJECTED):
            return str(obj.units)
        return f"{obj.units} ({obj.units_received})"

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(
            reverse("admin:returns_returnrequest_open") + "?" + request.GET.urlencode()
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rma = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if rma is not None:
            extra_context["return_steps"] = available_return_steps(rma, request.user)
            extra_context["has_label"] = rma.status == S.APPROVED
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("open/", view(self.open_view), name="returns_returnrequest_open"),
            path("scan/", view(self.scan_view), name="returns_returnrequest_scan"),
            path(
                "report/", view(self.report_view), name="returns_returnrequest_report"
            ),
            path(
                "<int:object_id>/step/<str:step>/",
                view(self.step_view),
                name="returns_returnrequest_step",
            ),
            path(
                "<int:object_id>/label/",
                view(self.label_view),
                name="returns_returnrequest_label",
            ),
            *super().get_urls(),
        ]

    def _page(self, request, template: str, title: str, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                **context,
            },
        )

    # ---- opening a return from an order

    def open_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(OPEN):
            raise PermissionDenied
        order_id = request.GET.get("order")
        if not order_id:
            lookup = forms.OrderLookupForm(
                request.GET if "order_number" in request.GET else None
            )
            if lookup.is_bound and lookup.is_valid():
                order = lookup.cleaned_data["order_number"]
                return HttpResponseRedirect(f"{request.path}?order={order.pk}")
            return self._page(
                request,
                "admin/returns/returnrequest/lookup.html",
                "Open a return",
                form=lookup,
                intro="A return starts from an order: press Open return on the "
                "order's page, or give its number here.",
            )
        order = get_object_or_404(
            Order.objects.select_related("channel", "customer"), pk=order_id
        )
        form = forms.OpenReturnForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                rma = services.return_open(
                    order=order,
                    lines=form.line_inputs(),
                    note=form.cleaned_data["note"],
                    resolution=form.cleaned_data["resolution"],
                    actor=request.user,
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Return {rma.number} opened for order {order.number}; approve or "
                    "reject it.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:returns_returnrequest_change", args=[rma.pk])
                )
        return self._page(
            request,
            "admin/returns/returnrequest/step.html",
            f"Open a return for order {order.number}",
            form=form,
            order=order,
            button="Open return",
        )

    # ---- steps on a return

    def step_view(
        self, request: HttpRequest, object_id: int, step: str
    ) -> HttpResponse:
        rma = get_object_or_404(
            ReturnRequest.objects.select_related("order__channel", "order__customer"),
            pk=object_id,
        )
        change_url = reverse("admin:returns_returnrequest_change", args=[rma.pk])
        action = RETURN_STEPS.get(step)
        if action is None:
            return HttpResponseRedirect(change_url)
        if not request.user.has_perm(action.permission):
            raise PermissionDenied
        form = action.form(request.POST or None, return_request=rma, user=request.user)
        seen = request.POST.get("seen_version")
        if request.method == "POST" and seen and seen != str(rma.version):
            # Optimistic locking: the page was opened before someone else's step.
            self.message_user(
                request,
                f"Return {rma.number} was changed by someone else while you were "
                "working on it; nothing was saved. Check it and try again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        if request.method == "POST" and form.is_valid():
            try:
                text = action.run(rma, request.user, form)
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, text, messages.SUCCESS)
                if step == "receive" and request.user.has_perm(RECEIVE):
                    return HttpResponseRedirect(
                        reverse(
                            "admin:returns_returnrequest_step", args=[rma.pk, "inspect"]
                        )
                    )
                return HttpResponseRedirect(change_url)
        return self._page(
            request,
            "admin/returns/returnrequest/step.html",
            f"{action.label}: {rma.number} (order {rma.order.number})",
            form=form,
            original=rma,
            order=rma.order,
            button=action.label,
            style=action.style,
        )

    def scan_view(self, request: HttpRequest) -> HttpResponse:
        """The receiving desk: scan the label's barcode, land on the next step."""
        if not request.user.has_perm(RECEIVE):
            raise PermissionDenied
        form = forms.ScanForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            rma = form.cleaned_data["code"]
            next_step = {S.APPROVED: "receive", S.RECEIVED: "inspect"}.get(rma.status)
            if next_step:
                return HttpResponseRedirect(
                    reverse(
                        "admin:returns_returnrequest_step", args=[rma.pk, next_step]
                    )
                )
            self.message_user(
                request,
                f"Return {rma.number} is {rma.get_status_display()}: there is nothing "
                "to receive or inspect."
                + (" It must be approved first." if rma.status == S.REQUESTED else ""),
                messages.ERROR,
            )
        return self._page(
            request,
            "admin/returns/returnrequest/step.html",
            "Receive a return",
            form=form,
            button="Find return",
        )

    def label_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        rma = get_object_or_404(
            ReturnRequest.objects.select_related("order"), pk=object_id
        )
        if rma.status in (S.REQUESTED, S.REJECTED):
            self.message_user(
                request,
                f"Return {rma.number} is {rma.get_status_display()}; it has no label.",
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse("admin:returns_returnrequest_change", args=[rma.pk])
            )
        pdf = documents.return_label_pdf(return_request=rma)
        services.return_label_print_record(return_request=rma, actor=request.user)
        return pdf_response(pdf, documents.return_label_filename(rma))

    @admin.action(
        description="Approve (standard instructions)", permissions=["approve"]
    )
    def approve_returns(self, request, queryset: QuerySet[ReturnRequest]):
        done, errors = [], []
        for rma in queryset.order_by("number"):
            try:
                services.return_approve(return_request=rma, actor=request.user)
                done.append(rma.number)
            except DomainError as error:
                errors.append(str(error))
        if done:
            self.message_user(
                request, f"Approved {len(done)}: {', '.join(done)}.", messages.SUCCESS
            )
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    # ---- the report

    def report_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(REPORT):
            raise PermissionDenied
        start, end = forms.ReportForm.default_range()
        form = forms.ReportForm(
            request.GET if "start" in request.GET else None,
            initial={"start": start, "end": end},
        )
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        report = selectors.returns_report(start=start, end=end)
        if request.GET.get("format") == "csv" and (
            not form.is_bound or form.is_valid()
        ):
            return _report_csv(report)
        charts = [
            horizontal_bars(
                [(row.label, row.returned_units) for row in report.by_reason],
                title="Returned units by reason",
                unit=" units",
                width=640,
            ),
            horizontal_bars(
                [(row.label, float(row.rate or 0)) for row in report.by_channel],
                title="Return rate by channel (returned / shipped units)",
                unit=" %",
                width=640,
            ),
            horizontal_bars(
                [(row.key, row.returned_units) for row in report.by_product[:10]],
                title="Most returned products (units)",
                unit=" units",
                width=640,
            ),
        ]
        query = request.GET.copy()
        query["start"], query["end"], query["format"] = start, end, "csv"
        return self._page(
            request,
            "admin/returns/returnrequest/report.html",
            "Returns report",
            form=form,
            report=report,
            charts=charts,
            csv_query=query.urlencode(),
            products=report.by_product[:50],
        )


def _report_csv(report: selectors.ReturnsReport) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="returns-{report.start}-to-{report.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(
        [
            "group",
            "key",
            "label",
            "shipped_units",
            "returned_units",
            "returns",
            "return_rate_percent",
        ]
    )
    writer.writerow(
        [
            "total",
            "",
            f"orders placed {report.start} to {report.end}",
            report.shipped_units,
            report.returned_units,
            report.returns,
            report.rate if report.rate is not None else "",
        ]
    )
    for group, rows in (
        ("reason", report.by_reason),
        ("channel", report.by_channel),
        ("product", report.by_product),
    ):
        for row in rows:
            writer.writerow(
                [
                    escape_formula(value)
                    for value in (
                        group,
                        row.key,
                        row.label,
                        row.shipped_units if group != "reason" else "",
                        row.returned_units,
                        row.returns,
                        row.rate if row.rate is not None and group != "reason" else "",
                    )
                ]
            )
    return response


# ---- refunds


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
        return _status_badge(obj)

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
        order_id = request.GET.get("order")
        if not order_id:
            lookup = forms.OrderLookupForm(
                request.GET if "order_number" in request.GET else None
            )
            if lookup.is_bound and lookup.is_valid():
                order = lookup.cleaned_data["order_number"]
                return HttpResponseRedirect(f"{request.path}?order={order.pk}")
            return TemplateResponse(
                request,
                "admin/returns/returnrequest/lookup.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Refund an order",
                    "opts": self.model._meta,
                    "form": lookup,
                    "intro": "A refund without a return (a late delivery, "
                    "goodwill): press Refund on the order's page, or give its "
                    "number here. Refunds of returned goods start on the return.",
                },
            )
        order = get_object_or_404(
            Order.objects.select_related("channel", "customer"), pk=order_id
        )
        form = forms.OrderRefundForm(
            request.POST or None, order=order, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                refund, text = refund_from_form(
                    order=order, return_request=None, user=request.user, form=form
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:returns_refund_change", args=[refund.pk])
                )
        return TemplateResponse(
            request,
            "admin/returns/returnrequest/step.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Refund on order {order.number}",
                "opts": self.model._meta,
                "order": order,
                "form": form,
                "button": "Refund",
            },
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
                    services.refund_approve(
                        refund=refund,
                        actor=request.user,
                        external_reference=form.cleaned_data["external_reference"],
                    )
                else:
                    services.refund_reject(
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
        return TemplateResponse(
            request,
            "admin/returns/returnrequest/step.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{decision.capitalize()} refund {refund.number} of "
                f"{refund.amount} {refund.order.currency} (order {refund.order.number})",
                "opts": self.model._meta,
                "original": refund,
                "order": refund.order,
                "form": form,
                "button": decision.capitalize(),
            },
        )


# ---- the order page: return state and the Open return button


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


admin.site.unregister(Order)


@admin.register(Order)
class ReturnsOrderAdmin(FulfilmentOrderAdmin):
    list_display = [*FulfilmentOrderAdmin.list_display, "return_state"]
    list_filter = [*FulfilmentOrderAdmin.list_filter, ReturnStateFilter]
    change_form_template = "admin/returns/order/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return selectors.orders_with_return_units(super().get_queryset(request))

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
        # Only orders that have returns show (and post) the returns inline.
        if obj is not None and ReturnRequest.objects.filter(order=obj).exists():
            inlines.append(ReturnOfOrderInline)
        return inlines

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_open_return": request.user.has_perm(OPEN)
            and Order.objects.filter(
                pk=object_id, lines__quantity_shipped__gt=0
            ).exists(),
            "can_refund": request.user.has_perm(PROPOSE_REFUND),
        }
        return super().change_view(request, object_id, form_url, extra_context)
