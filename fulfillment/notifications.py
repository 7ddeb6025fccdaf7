"""Who hears about a shipment: the customer (e-mail) and the sales channel
(the `shipment.event` hook: the connections record the shop's message in the
outbox). Called by the fulfillment services inside their transaction; both go
out after commit, through the task queue."""

from datetime import date

from django.utils.formats import date_format

from core.hooks import SHIPMENT_EVENT, hook_emit
from fulfillment.models import ExceptionReason, Shipment, TrackingEvent
from orders.emails import customer_email_queue
from orders.models import EmailKind, Order

Kind = EmailKind


def _day(value: date | None) -> str:
    return date_format(value, "l j F Y") if value else ""


def shipment_shipped_notify(*, shipment: Shipment) -> None:
    """The parcel left: mail the customer its tracking link, tell the channel."""
    carrier = shipment.carrier
    customer_email_queue(
        order=shipment.order,
        kind=Kind.SHIPPED,
        # With the tracking number: a shipment shipped again after its label
        # was voided mails its new tracking number (once).
        key=shipment.number
        + (f":{shipment.tracking_number}" if shipment.tracking_number else ""),
        context={
            "shipment": shipment.number,
            "carrier": carrier.name if carrier else "",
            "service": shipment.service,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "eta": _day(shipment.estimated_delivery),
        },
    )
    hook_emit(SHIPMENT_EVENT, event="shipment.shipped", shipment=shipment)


def shipment_delivered_notify(*, shipment: Shipment, order: Order) -> None:
    """Tell the channel; mail the customer once the whole order has arrived."""
    hook_emit(SHIPMENT_EVENT, event="shipment.delivered", shipment=shipment)
    order_delivered_notify(order=order)


def order_delivered_notify(*, order: Order) -> None:
    """Mail the customer once the whole order has arrived (never twice)."""
    if order.status == "delivered":
        customer_email_queue(order=order, kind=Kind.DELIVERED, key=order.number)


def shipment_tracking_notify(
    *, shipment: Shipment, event: TrackingEvent, previous_eta: date | None
) -> None:
    """Tell the channel about the news; mail the customer when something went
    wrong (once per kind of problem) or the delivery date moved later."""
    hook_emit(SHIPMENT_EVENT, event="shipment.tracking_updated", shipment=shipment)
    context = {
        "shipment": shipment.number,
        "eta": _day(shipment.estimated_delivery),
        "tracking_url": shipment.tracking_url,
    }
    if event.status == TrackingEvent.Status.EXCEPTION:
        problem = ExceptionReason(event.exception_reason).label.lower()
        if event.description:
            problem += f" ({event.description})"
        customer_email_queue(
            order=shipment.order,
            kind=Kind.DELAYED,
            key=f"{shipment.number}:{event.exception_reason}",
            context={**context, "problem": problem},
        )
    elif (
        previous_eta
        and shipment.estimated_delivery
        and shipment.estimated_delivery > previous_eta
    ):
        customer_email_queue(
            order=shipment.order,
            kind=Kind.DELAYED,
            key=f"{shipment.number}:eta:{shipment.estimated_delivery.isoformat()}",
            context={
                **context,
                "problem": f"the carrier now expects it on "
                f"{_day(shipment.estimated_delivery)} instead of {_day(previous_eta)}",
            },
        )


def shipment_tracking_changed_notify(*, shipment: Shipment) -> None:
    """Give the channel the shipment's new carrier and tracking number."""
    hook_emit(SHIPMENT_EVENT, event="shipment.tracking_changed", shipment=shipment)
