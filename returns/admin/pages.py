"""What the returns admin's pages share: the permissions, the status badge,
the plain form page, and the order page that starts a return or a refund
(find the order, fill in its form, call the service)."""

from collections.abc import Callable

from django import forms as django_forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.html import format_html

from core.exceptions import DomainError
from orders.models import Order
from returns import forms
from returns.models import Refund, ReturnRequest

OPEN = "returns.add_returnrequest"
APPROVE = "returns.approve_return"
RECEIVE = "returns.receive_return"
RESOLVE = "returns.resolve_return"
PROPOSE_REFUND = "returns.add_refund"
APPROVE_REFUND = "returns.approve_refund"
REPORT = "returns.view_return_report"

STEP_TEMPLATE = "admin/returns/returnrequest/step.html"
LOOKUP_TEMPLATE = "admin/returns/returnrequest/lookup.html"


def status_badge(obj: ReturnRequest | Refund) -> str:
    """Return the coloured status label of a return or refund."""
    return format_html(
        '<span class="oms-status oms-status-{}">{}</span>',
        obj.status,
        obj.get_status_display(),
    )


def admin_page(
    model_admin: ModelAdmin, request: HttpRequest, template: str, title: str, **context
) -> TemplateResponse:
    """Render one of the admin's own pages with the site's context."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            **context,
        },
    )


def order_lookup_page(
    model_admin: ModelAdmin, request: HttpRequest, *, title: str, intro: str
) -> HttpResponse:
    """Ask for an order number; once found, come back with `?order=<pk>`."""
    lookup = forms.OrderLookupForm(
        request.GET if "order_number" in request.GET else None
    )
    if lookup.is_bound and lookup.is_valid():
        order = lookup.cleaned_data["order_number"]
        return HttpResponseRedirect(f"{request.path}?order={order.pk}")
    return admin_page(
        model_admin, request, LOOKUP_TEMPLATE, title, form=lookup, intro=intro
    )


def order_form_view(
    model_admin: ModelAdmin,
    request: HttpRequest,
    *,
    lookup_title: str,
    lookup_intro: str,
    make_form: Callable[[Order, QueryDict | None], django_forms.Form],
    submit: Callable[[Order, django_forms.Form], tuple[str, str]],
    title: str,
    button: str,
) -> HttpResponse:
    """Find the order (`?order=<pk>`, else ask for its number), then show the
    form `make_form(order, data)` builds; once valid, `submit(order, form)` calls the service and returns the
    page to go to and the text to show, or raises a domain error."""
    order_id = request.GET.get("order")
    if not order_id:
        return order_lookup_page(
            model_admin, request, title=lookup_title, intro=lookup_intro
        )
    order = get_object_or_404(
        Order.objects.select_related("channel", "customer"), pk=order_id
    )
    form = make_form(order, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            next_url, text = submit(order, form)
        except DomainError as error:
            model_admin.message_user(request, str(error), messages.ERROR)
        else:
            model_admin.message_user(request, text, messages.SUCCESS)
            return HttpResponseRedirect(next_url)
    return admin_page(
        model_admin,
        request,
        STEP_TEMPLATE,
        f"{title} {order.number}",
        form=form,
        order=order,
        button=button,
    )
