"""The customer's order page and its forms.

Every answer: rate-limited per client address, `noindex` (header and meta),
never cached, no referrer to other sites (the link is the key); a tampered, expired or
unknown link is the same 404. Each form is CSRF-protected, posts to its own
address, calls one service with a `CustomerActor` (timeline: *by the
customer*, with the address and time) and comes back to the page.
"""

import functools
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from core.cache import cache_count, cache_key
from core.exceptions import DomainError
from core.responses import pdf_response
from fulfillment.exceptions import FulfillmentError
from oms.csp import image_origin, images_allow
from oms.customer import forms
from oms.customer.selectors import CustomerPage, customer_page
from orders.customer_access import CustomerActor
from orders.models import CustomerRequest, OrderLine
from orders.services.customer import (
    customer_request_create,
    order_cancel_by_customer,
    order_delivery_change_by_customer,
)
from returns import documents
from returns.models import ReturnRequest
from returns.services.customer import return_open_by_customer
from returns.services.labels import return_label_print_record
from returns.services.returns import ReturnLineInput

DONE_MESSAGES = {
    "delivery": "Done: your delivery details are changed. We sent you an e-mail "
    "to confirm.",
    "request": "Thank you: customer service has your request and will write to you.",
    "cancel": "Your order is cancelled. We sent you an e-mail to confirm.",
    "return": "Your return request is in. We will write to you when it is "
    "approved; the return label will then be here.",
}


ACCENT = re.compile(r"^#[0-9a-fA-F]{6}$")


def client_address(request: HttpRequest) -> str:
    """The client's IP address as the web server saw it."""
    return request.META.get("REMOTE_ADDR", "") or ""


def customer_page_rate_key(address: str) -> str:
    """The shared cache's key counting a client address's page views."""
    return cache_key("customer-page-rate", address)


def _rate_limited(request: HttpRequest) -> bool:
    """Count this request against the client's budget (in the shared cache:
    the same for every process); True when over it."""
    limit, _, per = settings.OMS_CUSTOMER_PAGE_RATE.partition("/")
    window = {"second": 1, "minute": 60, "hour": 3600}.get(per or "minute", 60)
    key = customer_page_rate_key(client_address(request))
    return cache_count(key, window=window) > int(limit)


def _private(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Referrer-Policy"] = "same-origin"
    add_never_cache_headers(response)
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    """The one answer to a link that is wrong, expired or for no order."""
    return render(request, "customer/not_found.html", status=404)


def customer_view(view: Callable) -> Callable:
    """Rate-limit, load the page's order (or 404), mark the answer private."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        if _rate_limited(request):
            response = render(request, "customer/rate_limited.html", status=429)
            response["Retry-After"] = "60"
            return _private(response)
        page = customer_page(token=token)
        if page is None:
            return _private(not_found(request))
        return _private(view(request, page, token, *args, **kwargs))

    return wrapped


def _forms(page: CustomerPage, bound: dict | None = None) -> dict:
    """The forms the page offers now (only those: each costs rendering)."""
    bound = bound or {}
    offered = {
        "delivery": (
            page.can_change_delivery,
            lambda: forms.DeliveryForm(
                current_date=page.order.requested_delivery_date, order=page.order
            ),
        ),
        "request": (page.can_request_change, forms.RequestForm),
        "cancel": (page.can_cancel, forms.CancelForm),
        "cancel_request": (page.can_request_cancel, forms.CancelRequestForm),
        "return": (page.can_return, lambda: forms.ReturnForm(lines=page.lines)),
    }
    return {
        f"{name}_form": bound.get(name) or build()
        for name, (shown, build) in offered.items()
        if shown or name in bound
    }


def _page(
    request: HttpRequest,
    page: CustomerPage,
    token: str,
    *,
    bound: dict | None = None,
    error: str = "",
    section: str = "",
    status: int = 200,
) -> HttpResponse:
    channel = page.order.channel
    # The logo is shown only from an https origin, which the page's Content
    # Security Policy then allows: the one image from another site.
    logo_origin = image_origin(channel.logo_url)
    context = {
        "page": page,
        "order": page.order,
        "channel": channel,
        "logo_url": channel.logo_url if logo_origin else "",
        # Checked again here: the colour goes into the page's style sheet.
        "accent": page.order.channel.accent_colour
        if ACCENT.match(page.order.channel.accent_colour or "")
        else "",
        "token": token,
        "done": DONE_MESSAGES.get(request.GET.get("done", "")),
        "error": error,
        "section": section,
        **_forms(page, bound),
    }
    response = render(request, "customer/order.html", context, status=status)
    return images_allow(response, logo_origin)


def _back(token: str, done: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        reverse("customer:order", args=[token]) + f"?done={done}"
    )


def _actor(request: HttpRequest) -> CustomerActor:
    return CustomerActor(client_address=client_address(request))


@require_GET
@customer_view
def order_page(request: HttpRequest, page: CustomerPage, token: str) -> HttpResponse:
    return _page(request, page, token)


@require_POST
@customer_view
def delivery_change(
    request: HttpRequest, page: CustomerPage, token: str
) -> HttpResponse:
    form = forms.DeliveryForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            page,
            token,
            bound={"delivery": form},
            section="delivery",
            status=400,
        )
    try:
        order_delivery_change_by_customer(
            order=page.order,
            actor=_actor(request),
            address=form.address(),
            requested_delivery_date=form.cleaned_data["requested_delivery_date"],
        )
    except DomainError as error:
        return _page(
            request,
            page,
            token,
            bound={"delivery": form},
            error=str(error),
            section="delivery",
            status=400,
        )
    return _back(token, "delivery")


@require_POST
@customer_view
def change_request(
    request: HttpRequest, page: CustomerPage, token: str
) -> HttpResponse:
    form = forms.RequestForm(request.POST)
    if not form.is_valid():
        return _page(
            request, page, token, bound={"request": form}, section="request", status=400
        )
    details = {}
    if form.cleaned_data["requested_delivery_date"]:
        details["requested_delivery_date"] = form.cleaned_data[
            "requested_delivery_date"
        ]
    try:
        customer_request_create(
            order=page.order,
            actor=_actor(request),
            kind=CustomerRequest.Kind.CHANGE_DELIVERY,
            message=form.cleaned_data["message"],
            details=details,
        )
    except DomainError as error:
        return _page(
            request,
            page,
            token,
            bound={"request": form},
            error=str(error),
            section="request",
            status=400,
        )
    return _back(token, "request")


@require_POST
@customer_view
def cancel(request: HttpRequest, page: CustomerPage, token: str) -> HttpResponse:
    if page.can_cancel:
        form = forms.CancelForm(request.POST)
        bound_name = "cancel"
    else:
        form = forms.CancelRequestForm(request.POST)
        bound_name = "cancel_request"
    if not form.is_valid():
        return _page(
            request, page, token, bound={bound_name: form}, section="cancel", status=400
        )
    try:
        if page.can_cancel:
            order_cancel_by_customer(
                order=page.order,
                actor=_actor(request),
                reason=form.cleaned_data["reason"],
            )
            done = "cancel"
        else:
            customer_request_create(
                order=page.order,
                actor=_actor(request),
                kind=CustomerRequest.Kind.CANCEL,
                message=form.cleaned_data["message"] or "Please cancel my order.",
            )
            done = "request"
    except DomainError as error:
        return _page(
            request,
            page,
            token,
            bound={bound_name: form},
            error=str(error),
            section="cancel",
            status=400,
        )
    return _back(token, done)


@require_POST
@customer_view
def return_start(request: HttpRequest, page: CustomerPage, token: str) -> HttpResponse:
    form = forms.ReturnForm(request.POST, lines=page.lines)
    if not form.is_valid():
        return _page(
            request, page, token, bound={"return": form}, section="return", status=400
        )
    chosen = form.chosen()
    order_lines = OrderLine.objects.in_bulk([pk for pk, _, _ in chosen])
    try:
        return_open_by_customer(
            order=page.order,
            actor=_actor(request),
            lines=[
                ReturnLineInput(
                    order_line=order_lines[pk], quantity=quantity, reason=reason
                )
                for pk, quantity, reason in chosen
            ],
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        return _page(
            request,
            page,
            token,
            bound={"return": form},
            error=str(error),
            section="return",
            status=400,
        )
    return _back(token, "return")


@require_GET
@customer_view
def return_label(
    request: HttpRequest, page: CustomerPage, token: str, number: str
) -> HttpResponse:
    """The approved return's label, as a PDF download; logged on the timeline."""
    rma = ReturnRequest.objects.filter(order_id=page.order.pk, number=number).first()
    if rma is None or not any(
        view.number == rma.number and view.has_label for view in page.returns
    ):
        return not_found(request)
    try:
        # The prepaid label where one was bought through EasyPost, else ours.
        pdf = documents.return_label_pdf(return_request=rma)
    except FulfillmentError:  # a label too full, or in no printable format
        return _page(
            request,
            page,
            token,
            error=f"The return label of {rma.number} cannot be printed; please "
            "write to us and we will send it.",
            section="returns",
            status=409,
        )
    return_label_print_record(return_request=rma, actor=_actor(request))
    return pdf_response(pdf, documents.return_label_filename(rma))
