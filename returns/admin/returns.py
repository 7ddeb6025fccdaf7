"""Return requests (RMA): the list and page with its step buttons, opening a
return from an order, the receiving desk's scan and the return label.

Thin: every change is a call to `returns.services`; domain errors come back
as messages.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from core.admin_utils import ReadOnlyAdminMixin, ReadOnlyInline
from core.exceptions import DomainError
from core.history_admin import FieldHistoryAdmin
from core.responses import pdf_response
from core.steps import Step, StepAdminMixin
from orders.models import Order
from returns import documents, forms
from returns.admin.pages import (
    APPROVE,
    OPEN,
    PROPOSE_REFUND,
    RECEIVE,
    RESOLVE,
    STEP_TEMPLATE,
    admin_page,
    order_form_view,
    status_badge,
)
from returns.admin.refunds import refund_from_form
from returns.admin.report import ReturnsReportAdminMixin
from returns.admin.search import ReturnNumberSearchMixin
from returns.exceptions import ReturnChangedError
from returns.models import Refund, ReturnLine, ReturnRequest, ReturnStatus
from returns.services.labels import return_label_print_record
from returns.services.returns import (
    return_approve,
    return_close,
    return_exchange,
    return_inspect,
    return_open,
    return_receive,
    return_reject,
)

# ---- the steps of a return page: each calls one service, passing the
# return's version the page was opened at


def _approve(rma: ReturnRequest, user, form: forms.ApproveForm) -> str:
    return_approve(
        return_request=rma,
        actor=user,
        message=form.cleaned_data["message"],
        expected_version=form.expected_version,
    )
    return f"Return {rma.number} approved; the customer gets the return label."


def _reject(rma: ReturnRequest, user, form: forms.RejectForm) -> str:
    return_reject(
        return_request=rma,
        actor=user,
        message=form.cleaned_data["message"],
        expected_version=form.expected_version,
    )
    return f"Return {rma.number} rejected; the customer is told why."


def _receive(rma: ReturnRequest, user, form: forms.ReceiveForm) -> str:
    return_receive(
        return_request=rma,
        actor=user,
        quantities=form.quantities(),
        expected_version=form.expected_version,
    )
    return f"Return {rma.number} received. Now record the condition of each item."


def _inspect(rma: ReturnRequest, user, form: forms.InspectForm) -> str:
    return_inspect(
        return_request=rma,
        actor=user,
        inspections=form.inspections(),
        expected_version=form.expected_version,
    )
    return f"Return {rma.number} inspected; stock is booked."


def _refund(rma: ReturnRequest, user, form: forms.RefundForm) -> str:
    _, text = refund_from_form(
        order=rma.order,
        return_request=rma,
        actor=user,
        form=form,
        expected_version=form.expected_version,
    )
    return text


def _exchange(rma: ReturnRequest, user, form: forms.ExchangeForm) -> str:
    replacement = return_exchange(
        return_request=rma,
        actor=user,
        items=form.items(),
        expected_version=form.expected_version,
    )
    return (
        f"Return {rma.number} exchanged: replacement order {replacement.number} is "
        f"{replacement.get_status_display()}."
    )


def _close(rma: ReturnRequest, user, form: forms.CloseForm) -> str:
    return_close(
        return_request=rma,
        actor=user,
        note=form.cleaned_data["note"],
        expected_version=form.expected_version,
    )
    return f"Return {rma.number} closed."


RETURN_STEPS: dict[str, Step] = {
    "approve": Step(
        "Approve",
        APPROVE,
        _approve,
        form=forms.ApproveForm,
        statuses=(ReturnStatus.REQUESTED,),
    ),
    "reject": Step(
        "Reject",
        APPROVE,
        _reject,
        form=forms.RejectForm,
        style="danger",
        statuses=(ReturnStatus.REQUESTED,),
    ),
    "receive": Step(
        "Receive",
        RECEIVE,
        _receive,
        form=forms.ReceiveForm,
        statuses=(ReturnStatus.APPROVED,),
    ),
    "inspect": Step(
        "Inspect",
        RECEIVE,
        _inspect,
        form=forms.InspectForm,
        statuses=(ReturnStatus.RECEIVED,),
    ),
    "refund": Step(
        "Refund",
        PROPOSE_REFUND,
        _refund,
        form=forms.RefundForm,
        statuses=(ReturnStatus.INSPECTED, ReturnStatus.REFUNDED),
    ),
    "exchange": Step(
        "Exchange",
        RESOLVE,
        _exchange,
        form=forms.ExchangeForm,
        statuses=(ReturnStatus.INSPECTED,),
    ),
    "close": Step(
        "Close",
        RESOLVE,
        _close,
        form=forms.CloseForm,
        statuses=(ReturnStatus.INSPECTED,),
    ),
}


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
class ReturnRequestAdmin(
    ReturnNumberSearchMixin,
    StepAdminMixin,
    ReturnsReportAdminMixin,
    ReturnUnitsMixin,
    ReadOnlyAdminMixin,
    FieldHistoryAdmin,
):
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
    search_help_text = (
        "Return (RMA-12), order (SO-123), refund (RF-7) number however typed, "
        "or the customer's e-mail or name."
    )
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

    steps = RETURN_STEPS
    step_template = STEP_TEMPLATE
    step_url_name = "returns_returnrequest_step"
    steps_context_name = "return_steps"
    # A refused step shows its form again with the message.
    step_redirect_on_error = False

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
        return status_badge(obj)

    @admin.display(description="units (received)", ordering="units")
    def units_display(self, obj: ReturnRequest) -> str:
        if obj.status in (
            ReturnStatus.REQUESTED,
            ReturnStatus.APPROVED,
            ReturnStatus.REJECTED,
        ):
            return str(obj.units)
        return f"{obj.units} ({obj.units_received})"

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(
            reverse("admin:returns_returnrequest_open") + "?" + request.GET.urlencode()
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["has_label"] = obj is not None and obj.status == ReturnStatus.APPROVED
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("open/", view(self.open_view), name="returns_returnrequest_open"),
            path("scan/", view(self.scan_view), name="returns_returnrequest_scan"),
            path(
                "<int:object_id>/label/",
                view(self.label_view),
                name="returns_returnrequest_label",
            ),
            *super().get_urls(),
        ]

    # ---- opening a return from an order

    def open_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(OPEN):
            raise PermissionDenied

        def submit(order: Order, form: forms.OpenReturnForm) -> tuple[str, str]:
            rma = return_open(
                order=order,
                lines=form.line_inputs(),
                note=form.cleaned_data["note"],
                resolution=form.cleaned_data["resolution"],
                actor=request.user,
            )
            return (
                reverse("admin:returns_returnrequest_change", args=[rma.pk]),
                f"Return {rma.number} opened for order {order.number}; approve or "
                "reject it.",
            )

        return order_form_view(
            self,
            request,
            lookup_title="Open a return",
            lookup_intro="A return starts from an order: press Open return on the "
            "order's page, or give its number here.",
            make_form=lambda order, data: forms.OpenReturnForm(data, order=order),
            submit=submit,
            title="Open a return for order",
            button="Open return",
        )

    # ---- steps on a return (the view is core.steps')

    def get_step_object(self, request: HttpRequest, object_id: int) -> ReturnRequest:
        return get_object_or_404(
            ReturnRequest.objects.select_related("order__channel", "order__customer"),
            pk=object_id,
        )

    def get_step_form_kwargs(self, request, obj, name, step) -> dict:
        return {"return_request": obj, "user": request.user}

    def get_step_title(self, obj: ReturnRequest, step: Step) -> str:
        return f"{step.label}: {obj.number} (order {obj.order.number})"

    def get_step_context(self, request, obj, name, step) -> dict:
        return {"order": obj.order}

    def get_step_success_url(self, request, obj, name, step) -> str:
        # The receiving desk goes straight on to the inspection.
        if name == "receive" and request.user.has_perm(RECEIVE):
            return reverse("admin:returns_returnrequest_step", args=[obj.pk, "inspect"])
        return super().get_step_success_url(request, obj, name, step)

    def step_error_redirects(self, error) -> bool:
        # Optimistic locking: a step from a page opened before someone else's
        # lands on the return's current page; other refusals keep the form.
        return isinstance(error, ReturnChangedError)

    # ---- the receiving desk and the label

    def scan_view(self, request: HttpRequest) -> HttpResponse:
        """The receiving desk: scan the label's barcode, land on the next step."""
        if not request.user.has_perm(RECEIVE):
            raise PermissionDenied
        form = forms.ScanForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            rma = form.cleaned_data["code"]
            next_step = {
                ReturnStatus.APPROVED: "receive",
                ReturnStatus.RECEIVED: "inspect",
            }.get(rma.status)
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
                + (
                    " It must be approved first."
                    if rma.status == ReturnStatus.REQUESTED
                    else ""
                ),
                messages.ERROR,
            )
        return admin_page(
            self,
            request,
            STEP_TEMPLATE,
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
        if rma.status in (ReturnStatus.REQUESTED, ReturnStatus.REJECTED):
            self.message_user(
                request,
                f"Return {rma.number} is {rma.get_status_display()}; it has no label.",
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse("admin:returns_returnrequest_change", args=[rma.pk])
            )
        try:
            pdf = documents.return_label_pdf(return_request=rma)
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:returns_returnrequest_change", args=[rma.pk])
            )
        return_label_print_record(return_request=rma, actor=request.user)
        return pdf_response(pdf, documents.return_label_filename(rma))

    @admin.action(
        description="Approve (standard instructions)", permissions=["approve"]
    )
    def approve_returns(self, request, queryset: QuerySet[ReturnRequest]):
        done, errors = [], []
        for rma in queryset.order_by("number"):
            try:
                return_approve(return_request=rma, actor=request.user)
                done.append(rma.number)
            except DomainError as error:
                errors.append(str(error))
        if done:
            self.message_user(
                request, f"Approved {len(done)}: {', '.join(done)}.", messages.SUCCESS
            )
        for error in errors:
            self.message_user(request, error, messages.ERROR)
