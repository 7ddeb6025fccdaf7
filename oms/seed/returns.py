"""Demo returns in every state, on the first delivered orders."""

from orders.models import Order, OrderStatus
from returns import selectors as return_selectors
from returns.models import ReturnReason, ReturnRequest
from returns.services import refunds as refund_services
from returns.services import returns as return_services

RETURN_JOURNEYS = [
    "requested",
    "requested",
    "requested",
    "approved",
    "approved",
    "approved",
    "rejected",
    "rejected",
    "received",
    "received",
    "inspected",
    "inspected",
    "refund_pending",
    "refunded",
    "refunded",
    "refunded",
    "exchanged",
    "exchanged",
    "closed",
    "closed",
]


def _return_walk(order: Order, target: str, index: int, users: dict) -> None:
    """Open a return on a delivered order and take it to `target`."""
    service, warehouse, manager = users["service"], users["warehouse"], users["manager"]
    reasons = ReturnReason.values
    lines = list(order.lines.all())
    chosen = lines[: 1 + (index % 3 == 0)]
    rma = return_services.return_open(
        order=order,
        lines=[
            return_services.ReturnLineInput(
                order_line=line,
                quantity=line.quantity_shipped if index % 2 else 1,
                reason=reasons[(index + n) % len(reasons)],
            )
            for n, line in enumerate(chosen)
        ],
        actor=service,
        note="Demo return",
        resolution="exchange" if target == "exchanged" else "refund",
    )
    if target == "requested":
        return
    if target == "rejected":
        return_services.return_reject(
            return_request=rma,
            actor=service,
            message="The return window of 30 days has passed.",
        )
        return
    return_services.return_approve(return_request=rma, actor=service)
    if target == "approved":
        return
    # One parcel in four arrives a unit short.
    return_services.return_receive(
        return_request=rma,
        actor=warehouse,
        quantities={
            line.pk: line.quantity - (index % 4 == 1 and line.quantity > 1)
            for line in rma.lines.all()
        },
    )
    if target == "received":
        return
    location = return_selectors.return_location(order=order)
    return_services.return_inspect(
        return_request=rma,
        actor=warehouse,
        inspections={
            line.pk: return_services.Inspection(
                condition="damaged" if target == "closed" else "resellable",
                location=location,
            )
            for line in rma.lines.all()
        },
    )
    if target == "closed":
        return_services.return_close(
            return_request=rma, actor=service, note="Damaged by the customer."
        )
    elif target == "exchanged":
        return_services.return_exchange(return_request=rma, actor=service)
    elif target in ("refund_pending", "refunded"):
        refund = refund_services.refund_create(
            order=order,
            return_request=rma,
            line_quantities={
                line.order_line_id: line.quantity_received for line in rma.lines.all()
            },
            shipping=index % 2 == 0 and order.shipping_amount > 0,
            reason="Demo refund",
            actor=service,
        )
        if target == "refunded":
            refund_services.refund_approve(
                refund=refund,
                actor=manager,
                external_reference=f"DEMO-PAY-{rma.number}",
            )


def seed_returns(users: dict) -> None:
    """Returns on the first delivered orders, in every state of a return."""
    delivered = list(
        Order.objects.filter(status=OrderStatus.DELIVERED)
        .exclude(channel__code="marketplace")
        .order_by("number")[: len(RETURN_JOURNEYS)]
    )
    with_returns = set(
        ReturnRequest.objects.filter(order__in=delivered).values_list(
            "order_id", flat=True
        )
    )
    for index, (order, target) in enumerate(
        zip(delivered, RETURN_JOURNEYS, strict=False)
    ):
        if order.pk not in with_returns:
            _return_walk(order, target, index, users)
