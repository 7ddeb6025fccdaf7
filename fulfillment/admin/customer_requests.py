"""The customer-service queue with the warehouse's part: a cancel request
on an order being picked or packed is carried out from the request's page
(*Unpack and cancel*: its shipments cancelled, the order cancelled, its
stock given back, the customer told), by those who may cancel orders."""

from django.contrib import admin
from django.db import transaction

from core.steps import Step
from fulfillment.services.unpacking import UNPACKABLE, order_unpack_and_cancel
from orders.admin.customer_requests import (
    REQUEST_STEPS,
    CustomerRequestAdmin,
    ReplyForm,
)
from orders.locks import lock_customer_request, lock_order
from orders.models import CustomerRequest
from orders.services.customer import customer_request_handle


def _unpack_and_cancel(customer_request: CustomerRequest, user, form) -> str:
    with transaction.atomic():
        # The lock order: the order, its request, then its shipments.
        lock_order(customer_request.order_id)
        lock_customer_request(customer_request.pk)
        order = order_unpack_and_cancel(
            order=customer_request.order,
            actor=user,
            reason=f"customer request: {customer_request.message[:120]}",
        )
        customer_request_handle(
            request=customer_request,
            actor=user,
            status=CustomerRequest.Status.DONE,
            reply=form.cleaned_data["reply"]
            or "Your order is cancelled; nothing will be sent.",
        )
    return (
        f"Order {order.number} unpacked and cancelled; its stock is back on the "
        "shelf and the customer is e-mailed."
    )


def _cancel_request_on_packed_order(customer_request: CustomerRequest) -> bool:
    return (
        customer_request.kind == CustomerRequest.Kind.CANCEL
        and customer_request.order.status in UNPACKABLE
    )


STEPS = {
    "unpack_cancel": Step(
        "Unpack and cancel the order",
        "orders.cancel_order",
        _unpack_and_cancel,
        ReplyForm,
        "danger",
        statuses=("open",),
        when=_cancel_request_on_packed_order,
    ),
    **REQUEST_STEPS,
}

admin.site.unregister(CustomerRequest)


@admin.register(CustomerRequest)
class WarehouseCustomerRequestAdmin(CustomerRequestAdmin):
    """The queue, able to carry out a cancel request the warehouse holds."""

    steps = STEPS
