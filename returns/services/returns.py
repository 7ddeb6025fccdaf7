"""Returns (RMA): open, approve or reject, receive, inspect (restock or write
off), exchange and close.

Each service reads top to bottom: lock (the order first, then the return),
check, act, record on the order's timeline, mail the customer after commit.
Stock moves through `inventory.services`, replacement orders through
`orders.services.orders`. Steps taken on a page pass `expected_version`, the
return's version when the page was opened; it is compared under the lock.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.sequences import format_number, sequence_reserve
from core.users import Actor, acting_user
from inventory.models import Location, Product
from inventory.services import stock_return
from orders import events
from orders.addresses import Address
from orders.emails import customer_email_queue
from orders.locks import lock_order
from orders.models import EmailKind, Order, OrderLine
from orders.services.orders import LineInput, order_create
from returns import selectors
from returns.exceptions import ReturnError
from returns.locks import lock_return_and_order
from returns.models import (
    Condition,
    Resolution,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from returns.services.checks import (
    describe_items,
    ensure_transition,
    run_transition,
)
from returns.services.labels import (
    return_approved_email_queue,
    return_label_prepaid_queue,
)

RETURN_PREFIX = "RMA"
DEFAULT_INSTRUCTIONS = (
    "Pack the items listed below, stick the attached return label on the "
    "parcel and hand it to the carrier within 14 days."
)


@dataclass(frozen=True)
class ReturnLineInput:
    order_line: OrderLine
    quantity: int
    reason: str


@dataclass(frozen=True)
class Inspection:
    """The condition of one return line's received units, and where they go."""

    condition: str
    location: Location


# ---- opening and deciding


@transaction.atomic
def return_open(
    *,
    order: Order,
    lines: Sequence[ReturnLineInput],
    actor: Actor,
    note: str = "",
    resolution: str = Resolution.REFUND,
) -> ReturnRequest:
    """Open a return (RMA) for shipped units of an order.

    Each line may return at most what was shipped, minus what already came
    back, minus what other open returns already claim. Lines with quantity
    zero are left out.
    """
    order = lock_order(order.pk)
    if resolution not in Resolution.values:
        raise ReturnError(
            f"{resolution!r} is not a resolution; choose one of: "
            + ", ".join(Resolution.labels)
            + "."
        )
    wanted = [item for item in lines if item.quantity != 0]
    if not wanted:
        raise ReturnError(
            f"Choose at least one item of order {order.number} to return, with a "
            "quantity above zero."
        )
    order_lines = {line.pk: line for line in order.lines.all()}
    claims = selectors.open_return_claims(order=order)
    seen: set[int] = set()
    for item in wanted:
        line = order_lines.get(item.order_line.pk)
        if line is None:
            raise ReturnError(
                f"{item.order_line.sku} is not a line of order {order.number}."
            )
        if line.pk in seen:
            raise ReturnError(
                f"{line.sku} is listed twice; return it once with the full quantity."
            )
        seen.add(line.pk)
        if not isinstance(item.quantity, int) or item.quantity < 0:
            raise ReturnError(
                f"The quantity of {line.sku} to return must be a whole number."
            )
        if item.reason not in ReturnReason.values:
            raise ReturnError(f"Choose a return reason for {line.sku}.")
        claimed = claims.get(line.pk, 0)
        returnable = line.quantity_shipped - line.quantity_returned - claimed
        if item.quantity > returnable:
            raise ReturnError(
                f"Cannot return {item.quantity} × {line.sku} of order {order.number}: "
                f"{line.quantity_shipped} shipped, {line.quantity_returned} already "
                f"returned, {claimed} on open returns, so at most "
                f"{max(0, returnable)} can be returned."
            )
    number = format_number(RETURN_PREFIX, sequence_reserve(name="return")[0])
    return_request = ReturnRequest.objects.create(
        number=number,
        order=order,
        resolution=resolution,
        customer_note=note,
        created_by=acting_user(actor),
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(
            return_request=return_request,
            order_line=order_lines[item.order_line.pk],
            quantity=item.quantity,
            reason=item.reason,
        )
        for item in wanted
    )
    described = "; ".join(
        f"{item.quantity} × {order_lines[item.order_line.pk].sku} "
        f"({ReturnReason(item.reason).label})"
        for item in wanted
    )
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {number} opened for {described}; the customer asks for "
        f"{Resolution(resolution).label.lower()}." + (f" Note: {note}" if note else ""),
        data={"return": number, "status": ReturnStatus.REQUESTED},
    )
    return return_request


def _lines_context(return_request: ReturnRequest) -> list[dict]:
    return [
        {"sku": line.order_line.sku, "name": line.order_line.name, "quantity": q}
        for line in return_request.lines.select_related("order_line")
        if (q := line.quantity)
    ]


@transaction.atomic
def return_approve(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    message: str = "",
    expected_version: int | None = None,
) -> ReturnRequest:
    """Accept a return; the customer gets instructions and the return label."""
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    instructions = message.strip() or DEFAULT_INSTRUCTIONS
    run_transition(return_request, "approve", "approved", instructions, timezone.now())
    return_request.save()
    # A channel set up for EasyPost return labels: the label is bought after
    # commit and the instructions go with it; otherwise our drawn label now.
    prepaid = return_label_prepaid_queue(order=order, return_request=return_request)
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} approved; "
        + (
            "a prepaid return label is being bought, then the instructions and "
            "the label go to the customer."
            if prepaid
            else "instructions and the return label go to the customer."
        ),
        data={"return": return_request.number, "status": return_request.status},
    )
    if prepaid is None:
        return_approved_email_queue(
            order=order, return_request=return_request, instructions=instructions
        )
    return return_request


@transaction.atomic
def return_reject(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    message: str,
    expected_version: int | None = None,
) -> ReturnRequest:
    """Refuse a return and tell the customer why."""
    message = message.strip()
    if not message:
        raise ReturnError(
            f"Tell the customer why return {return_request.number} is rejected."
        )
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    run_transition(return_request, "reject", "rejected", message, timezone.now())
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} rejected: {message}",
        data={"return": return_request.number, "status": return_request.status},
    )
    customer_email_queue(
        order=order,
        kind=EmailKind.RETURN_REJECTED,
        key=return_request.number,
        context={"rma": return_request.number, "message": message},
    )
    return return_request


# ---- the warehouse


@transaction.atomic
def return_receive(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    quantities: Mapping[int, int],
    expected_version: int | None = None,
) -> ReturnRequest:
    """Record the units that arrived, per return line (keyed by its pk).

    The received units count as returned on the order lines at once; their
    condition and stock booking follow at inspection.
    """
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    run_transition(return_request, "receive", "received", timezone.now())
    lines = list(return_request.lines.select_related("order_line"))
    unknown = set(quantities) - {line.pk for line in lines}
    if unknown:
        raise ReturnError(
            f"Return {return_request.number} has no such line; reload the page."
        )
    for line in lines:
        quantity = quantities.get(line.pk, 0)
        if not isinstance(quantity, int) or not 0 <= quantity <= line.quantity:
            raise ReturnError(
                f"Return {return_request.number}: received {quantity} × "
                f"{line.order_line.sku}, but the customer sends {line.quantity}. "
                f"Enter 0 to {line.quantity}."
            )
        line.quantity_received = quantity
    if not any(line.quantity_received for line in lines):
        raise ReturnError(
            f"Nothing received on return {return_request.number}: enter the units "
            "that arrived."
        )
    ReturnLine.objects.bulk_update(lines, ["quantity_received"])
    for line in lines:
        if line.quantity_received:
            OrderLine.objects.filter(pk=line.order_line_id).update(
                quantity_returned=F("quantity_returned") + line.quantity_received
            )
    return_request.save()
    received = [(ln.order_line.sku, ln.quantity_received) for ln in lines]
    missing = [
        (ln.order_line.sku, ln.quantity - ln.quantity_received)
        for ln in lines
        if ln.quantity_received < ln.quantity
    ]
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} received: "
        f"{describe_items(p for p in received if p[1])}"
        + (f"; missing {describe_items(missing)}." if missing else "."),
        data={"return": return_request.number, "status": return_request.status},
    )
    return return_request


@transaction.atomic
def return_inspect(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    inspections: Mapping[int, Inspection],
    expected_version: int | None = None,
) -> ReturnRequest:
    """Record each received line's condition and book its stock.

    Resellable units go back to stock at the chosen location (reason return,
    the RMA as reference; waiting backorders are offered them); damaged units
    are written off there with their own movement reason.
    """
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    run_transition(return_request, "inspect", "inspected", timezone.now())
    lines = [
        line
        for line in return_request.lines.select_related("order_line__product")
        if line.quantity_received
    ]
    for line in lines:
        inspection = inspections.get(line.pk)
        if inspection is None or inspection.condition not in Condition.values:
            raise ReturnError(
                f"Return {return_request.number}: choose the condition of "
                f"{line.order_line.sku}."
            )
        if inspection.location is None:
            raise ReturnError(
                f"Return {return_request.number}: choose where {line.order_line.sku} "
                "goes."
            )
        line.condition = inspection.condition
        line.restock_location = inspection.location
    outcome = []
    for line in lines:
        resellable = line.condition == Condition.RESELLABLE
        stock_return(
            product=line.order_line.product,
            location=line.restock_location,
            quantity=line.quantity_received,
            resellable=resellable,
            actor=actor,
            reference=return_request.number,
            note=f"Order {order.number}",
        )
        where = line.restock_location.code
        outcome.append(
            f"{line.quantity_received} × {line.order_line.sku} "
            + (
                f"back to stock at {where}"
                if resellable
                else f"damaged, written off at {where}"
            )
        )
    ReturnLine.objects.bulk_update(lines, ["condition", "restock_location"])
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} inspected: "
        + "; ".join(outcome)
        + ".",
        data={"return": return_request.number, "status": return_request.status},
    )
    return return_request


# ---- resolving: exchange or close


@transaction.atomic
def return_exchange(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    items: Sequence[tuple[Product, int]] | None = None,
    expected_version: int | None = None,
) -> Order:
    """Send replacements for an inspected return in a new, linked order.

    The replacement order is free of charge (the customer paid with the first
    order), goes to the same address and is allocated and shipped like any
    other. Without `items` each received unit is replaced by the same product.
    """
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    ensure_transition(return_request, "exchange", "exchanged")
    if items is None:
        items = [
            (line.order_line.product, line.quantity_received)
            for line in return_request.lines.select_related("order_line__product")
            if line.quantity_received
        ]
    items = [(product, quantity) for product, quantity in items if quantity]
    if not items:
        raise ReturnError(
            f"Return {return_request.number} has nothing to replace; close it instead."
        )
    merged: dict[int, tuple[Product, int]] = {}
    for product, quantity in items:
        if not isinstance(quantity, int) or quantity < 0:
            raise ReturnError(
                f"The replacement quantity of {product.sku} must be a whole number."
            )
        previous = merged.get(product.pk, (product, 0))[1]
        merged[product.pk] = (product, previous + quantity)
    replacement = order_create(
        channel=order.channel,
        customer=order.customer,
        external_id=return_request.number,
        address=Address.from_fields(order),
        lines=[
            LineInput(product=product, quantity=quantity, unit_price=Decimal("0.00"))
            for product, quantity in merged.values()
        ],
        actor=actor,
        currency=order.currency,
        shipping_method=order.shipping_method,
        priority=order.priority,
        source=f"exchange for {return_request.number}",
    )
    run_transition(return_request, "exchange", "exchanged", replacement, timezone.now())
    return_request.save()
    sent = describe_items((p.sku, q) for p, q in merged.values())
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} exchanged: replacement order "
        f"{replacement.number} sends {sent}.",
        data={
            "return": return_request.number,
            "status": return_request.status,
            "replacement": replacement.number,
        },
    )
    events.order_event_return(
        order=replacement,
        actor=actor,
        message=f"Replacement for return {return_request.number} of order "
        f"{order.number}; free of charge.",
        data={"return": return_request.number, "original": order.number},
    )
    return replacement


@transaction.atomic
def return_close(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    note: str = "",
    expected_version: int | None = None,
) -> ReturnRequest:
    """Finish an inspected return with neither refund nor exchange."""
    order, return_request = lock_return_and_order(
        return_request, expected_version=expected_version
    )
    run_transition(return_request, "close", "closed", timezone.now())
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} closed without refund or exchange"
        + (f": {note}" if note else "."),
        data={"return": return_request.number, "status": return_request.status},
    )
    return return_request
