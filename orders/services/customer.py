"""What customers do themselves on their order page: change the delivery
until the order is packed, cancel it before it is picked, and, when it has
gone further, ask customer service (a request in the queue).

The changes go through the services staff use (`order_update`,
`order_cancel`), with a `CustomerActor` as the actor: the timeline says
*by the customer*, with the client's address and the time.
"""

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.users import Actor, acting_user
from orders import events
from orders.addresses import SHIP_TO_FIELDS, Address, address_problems
from orders.customer_access import CustomerActor
from orders.emails import customer_email_queue
from orders.exceptions import OrderError, OrderStateError
from orders.locks import lock_customer_request, lock_order
from orders.models import (
    CANCELLABLE,
    EDITABLE,
    CustomerRequest,
    EmailKind,
    Order,
    OrderStatus,
)
from orders.services.lifecycle import order_cancel
from orders.services.order_edits import OrderUpdate, order_update
from orders.services.shipby import ShipByCalendar

Kind = CustomerRequest.Kind
# How far ahead a customer may ask for a delivery date.
REQUESTED_DATE_MAX_DAYS = 90
# Too late to do it themselves, not too late for a person to try.
CHANGE_REQUESTABLE = [
    OrderStatus.PACKED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
]
CANCEL_REQUESTABLE = [OrderStatus.PICKING, OrderStatus.PACKED]
MESSAGE_MAX = 1000


def delivery_change_allowed(order: Order) -> bool:
    """The customer may change the delivery themselves (until packed)."""
    return order.status in EDITABLE


def cancel_allowed(order: Order) -> bool:
    """The customer may cancel themselves (before the pick list)."""
    return order.status in CANCELLABLE


def request_allowed(order: Order, kind: str) -> bool:
    """The customer may ask customer service for this (it has gone too far)."""
    allowed = CHANGE_REQUESTABLE if kind == Kind.CHANGE_DELIVERY else CANCEL_REQUESTABLE
    return order.status in allowed


def _check_requested_date(value: date | None, *, country: str) -> None:
    """A requested delivery day: after today, within the limit, and a day the
    location shipping to `country` works (no delivery on its days off)."""
    if value is None:
        return
    today = timezone.localdate()
    if value <= today:
        raise OrderError(
            f"Requested delivery date: choose a day after today ({today:%d %b %Y})."
        )
    if value > today + timedelta(days=REQUESTED_DATE_MAX_DAYS):
        raise OrderError(
            "Requested delivery date: choose a day within the next "
            f"{REQUESTED_DATE_MAX_DAYS} days."
        )
    days = ShipByCalendar.load().working_days(country)
    if not days.is_working(value):
        suggestion = days.next(value, include_today=False)
        raise OrderError(
            f"Requested delivery date: we do not deliver on {value:%A %d %b %Y}; "
            f"choose a working day, e.g. {suggestion:%A %d %b %Y}."
        )


def _delivery_changes(
    order: Order, address: Address | None, requested_delivery_date: date | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if address is not None:
        fields = address.as_order_fields()
        problems = address_problems(fields)
        if problems:
            raise OrderError("The new address: " + " ".join(problems.values()))
        changes.update(
            {name: fields[name] for name in SHIP_TO_FIELDS if name in fields}
        )
    if requested_delivery_date != order.requested_delivery_date:
        changes["requested_delivery_date"] = requested_delivery_date
    return changes


@transaction.atomic
def order_delivery_change_by_customer(
    *,
    order: Order,
    actor: CustomerActor,
    address: Address | None,
    requested_delivery_date: date | None,
) -> OrderUpdate:
    """Change the ship-to address and/or requested delivery date for the
    customer, through the staff path (per-country check, re-routing of the
    reservation), and confirm it by e-mail.

    `address` None keeps the address; the date is set as given (None clears
    it). Refused once the order is packed: the customer asks instead.
    """
    order = lock_order(order.pk)
    if not delivery_change_allowed(order):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display().lower()}; its "
            "delivery can no longer be changed here. Send a request instead."
        )
    _check_requested_date(
        requested_delivery_date,
        country=address.country if address is not None else order.ship_country,
    )
    changes = {
        name: value
        for name, value in _delivery_changes(
            order, address, requested_delivery_date
        ).items()
        if str(getattr(order, name) or "") != str(value or "")
    }
    if not changes:
        raise OrderError(
            "Nothing to change: the address and date you entered are the ones "
            f"order {order.number} already has."
        )
    updated = order_update(order=order, actor=actor, changes=changes)
    new_date = updated.order.requested_delivery_date
    customer_email_queue(
        order=updated.order,
        kind=EmailKind.DELIVERY_CHANGED,
        key=actor.at.isoformat(),
        context={
            "address_changed": any(name in SHIP_TO_FIELDS for name in changes),
            "date_changed": "requested_delivery_date" in changes,
            "requested_delivery_date": new_date.isoformat() if new_date else "",
        },
    )
    return updated


@transaction.atomic
def order_cancel_by_customer(
    *, order: Order, actor: CustomerActor, reason: str = ""
) -> Order:
    """Cancel the order for the customer, before it is on a pick list."""
    order = lock_order(order.pk)
    if not cancel_allowed(order):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display().lower()} and can "
            "no longer be cancelled here. Send a request instead."
        )
    reason = " ".join(reason.split())[:200]
    text = "customer request on the order page" + (f": {reason}" if reason else "")
    return order_cancel(order=order, actor=actor, reason=text)


@transaction.atomic
def customer_request_create(
    *,
    order: Order,
    actor: CustomerActor,
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> CustomerRequest:
    """Put what the customer asks for into the customer-service queue.

    Only when it is too late for them to do it themselves; one open request
    of each kind per order.
    """
    if kind not in Kind.values:
        raise OrderError(f"{kind!r} is not a kind of request.")
    message = message.strip()
    if not message:
        raise OrderError("Your message: tell us what you would like to change.")
    if len(message) > MESSAGE_MAX:
        raise OrderError(
            f"Your message: keep it under {MESSAGE_MAX} characters "
            f"(it has {len(message)})."
        )
    if "\x00" in message:
        raise OrderError("Your message contains a character that cannot be stored.")
    order = lock_order(order.pk)
    if not request_allowed(order, kind):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display().lower()}: "
            f"“{Kind(kind).label}” cannot be requested now."
        )
    if order.customer_requests.filter(
        kind=kind, status=CustomerRequest.Status.OPEN
    ).exists():
        raise OrderError(
            f"You already asked to {Kind(kind).label.lower()} for order "
            f"{order.number}; customer service will answer it."
        )
    details = details or {}
    if "requested_delivery_date" in details:
        _check_requested_date(
            details["requested_delivery_date"], country=order.ship_country
        )
        details["requested_delivery_date"] = details[
            "requested_delivery_date"
        ].isoformat()
    request = CustomerRequest.objects.create(
        order=order,
        kind=kind,
        message=message,
        details=details,
        client_address=actor.client_address or None,
    )
    events.order_event_customer_request(
        order=order,
        actor=actor,
        message=f"Request to {Kind(kind).label.lower()}: {message}",
        data={"request": request.pk, "kind": kind},
    )
    return request


@transaction.atomic
def customer_request_handle(
    *, request: CustomerRequest, actor: Actor, status: str, reply: str = ""
) -> CustomerRequest:
    """Answer a request from the queue: done or declined, with a reply the
    customer is e-mailed and sees on their order page, on the timeline. A
    decline says why."""
    if status not in (CustomerRequest.Status.DONE, CustomerRequest.Status.DECLINED):
        raise OrderError("Mark the request done or declined.")
    reply = reply.strip()
    if status == CustomerRequest.Status.DECLINED and not reply:
        raise OrderError(
            "Reply: tell the customer why the request is declined (it is e-mailed "
            "to them)."
        )
    if len(reply) > MESSAGE_MAX:
        raise OrderError(
            f"Reply: keep it under {MESSAGE_MAX} characters (it has {len(reply)})."
        )
    if "\x00" in reply:
        raise OrderError("The reply contains a character that cannot be stored.")
    lock_order(request.order_id)
    request = lock_customer_request(request.pk)
    if not request.is_open:
        raise OrderStateError(
            f"The request is already {request.get_status_display().lower()}."
        )
    request.status = status
    request.handled_at = timezone.now()
    request.handled_by = acting_user(actor)
    request.reply = reply
    request.save(update_fields=["status", "handled_at", "handled_by", "reply"])
    events.order_event_customer_request(
        order=request.order,
        actor=actor,
        message=f"Customer request to {request.get_kind_display().lower()} "
        f"{request.get_status_display().lower()}"
        + (f"; replied: {reply}" if reply else "."),
        data={"request": request.pk, "status": status},
    )
    customer_email_queue(
        order=request.order,
        kind=EmailKind.REQUEST_ANSWERED,
        key=str(request.pk),
        context={
            "request_kind": request.get_kind_display().lower(),
            "asked": request.message[:200],
            "done": status == CustomerRequest.Status.DONE,
            "outcome": request.get_status_display().lower(),
            "reply": reply,
        },
    )
    return request
