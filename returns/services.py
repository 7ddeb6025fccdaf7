"""Every write to returns and refunds: open, approve or reject, receive,
inspect (restock or write off), refund, exchange and close.

Each service reads top to bottom: lock (the order first, then the return or
refund), check, act, record on the order's timeline, mail the customer after
commit. Stock moves through `inventory.services`, replacement orders through
`orders.services`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from core.sequences import format_number, sequence_reserve
from fulfillment.models import DocumentKind, DocumentPrint
from inventory.models import Location, Product
from inventory.services import stock_return
from orders import events
from orders import services as order_services
from orders.emails import customer_email_queue
from orders.locks import lock_order
from orders.models import CustomerEmail, Order, OrderLine
from returns import selectors
from returns.exceptions import RefundError, ReturnError, ReturnStateError
from returns.locks import lock_refund, lock_return
from returns.models import (
    Condition,
    Refund,
    RefundLine,
    Resolution,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)

Actor = AbstractBaseUser | None
RETURN_PREFIX = "RMA"
REFUND_PREFIX = "RF"
CENT = Decimal("0.01")
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


def _ensure(obj: ReturnRequest | Refund, name: str, verb: str) -> None:
    """Raise a domain error naming the object and its state unless the
    transition `name` may run now."""
    if not can_proceed(getattr(obj, name)):
        what = "Return" if isinstance(obj, ReturnRequest) else "Refund"
        raise ReturnStateError(
            f"{what} {obj.number} is {obj.get_status_display()} and cannot be {verb}."
        )


def _transition(obj: ReturnRequest | Refund, name: str, verb: str, *args) -> None:
    """Run a transition, or raise a domain error naming the object and its state."""
    _ensure(obj, name, verb)
    getattr(obj, name)(*args)


def _items(pairs) -> str:
    return ", ".join(f"{quantity} × {sku}" for sku, quantity in pairs)


def _locked(return_request: ReturnRequest) -> tuple[Order, ReturnRequest]:
    order = lock_order(return_request.order_id)
    return order, lock_return(return_request.pk)


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
        created_by=actor if actor is not None and actor.is_authenticated else None,
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
    *, return_request: ReturnRequest, actor: Actor, message: str = ""
) -> ReturnRequest:
    """Accept a return; the customer gets instructions and the return label."""
    order, return_request = _locked(return_request)
    instructions = message.strip() or DEFAULT_INSTRUCTIONS
    _transition(return_request, "approve", "approved", instructions, timezone.now())
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} approved; instructions and the "
        "return label go to the customer.",
        data={"return": return_request.number, "status": return_request.status},
    )
    customer_email_queue(
        order=order,
        kind=CustomerEmail.Kind.RETURN_APPROVED,
        key=return_request.number,
        context={
            "rma": return_request.number,
            "return_id": return_request.pk,
            "instructions": instructions,
            "return_lines": _lines_context(return_request),
        },
    )
    return return_request


@transaction.atomic
def return_reject(
    *, return_request: ReturnRequest, actor: Actor, message: str
) -> ReturnRequest:
    """Refuse a return and tell the customer why."""
    message = message.strip()
    if not message:
        raise ReturnError(
            f"Tell the customer why return {return_request.number} is rejected."
        )
    order, return_request = _locked(return_request)
    _transition(return_request, "reject", "rejected", message, timezone.now())
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} rejected: {message}",
        data={"return": return_request.number, "status": return_request.status},
    )
    customer_email_queue(
        order=order,
        kind=CustomerEmail.Kind.RETURN_REJECTED,
        key=return_request.number,
        context={"rma": return_request.number, "message": message},
    )
    return return_request


# ---- the warehouse


@transaction.atomic
def return_receive(
    *, return_request: ReturnRequest, actor: Actor, quantities: Mapping[int, int]
) -> ReturnRequest:
    """Record the units that arrived, per return line (keyed by its pk).

    The received units count as returned on the order lines at once; their
    condition and stock booking follow at inspection.
    """
    order, return_request = _locked(return_request)
    _transition(return_request, "receive", "received", timezone.now())
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
        f"{_items(p for p in received if p[1])}"
        + (f"; missing {_items(missing)}." if missing else "."),
        data={"return": return_request.number, "status": return_request.status},
    )
    return return_request


@transaction.atomic
def return_inspect(
    *,
    return_request: ReturnRequest,
    actor: Actor,
    inspections: Mapping[int, Inspection],
) -> ReturnRequest:
    """Record each received line's condition and book its stock.

    Resellable units go back to stock at the chosen location (reason return,
    the RMA as reference; waiting backorders are offered them); damaged units
    are written off there with their own movement reason.
    """
    order, return_request = _locked(return_request)
    _transition(return_request, "inspect", "inspected", timezone.now())
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
) -> Order:
    """Send replacements for an inspected return in a new, linked order.

    The replacement order is free of charge (the customer paid with the first
    order), goes to the same address and is allocated and shipped like any
    other. Without `items` each received unit is replaced by the same product.
    """
    order, return_request = _locked(return_request)
    _ensure(return_request, "exchange", "exchanged")
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
    replacement = order_services.order_create(
        channel=order.channel,
        customer=order.customer,
        external_id=return_request.number,
        address=order_services.Address(
            name=order.ship_name,
            company=order.ship_company,
            address1=order.ship_address1,
            address2=order.ship_address2,
            city=order.ship_city,
            region=order.ship_region,
            postcode=order.ship_postcode,
            country=order.ship_country,
            phone=order.ship_phone,
        ),
        lines=[
            order_services.LineInput(
                product=product, quantity=quantity, unit_price=Decimal("0.00")
            )
            for product, quantity in merged.values()
        ],
        actor=actor,
        currency=order.currency,
        shipping_method=order.shipping_method,
        priority=order.priority,
        source=f"exchange for {return_request.number}",
    )
    _transition(return_request, "exchange", "exchanged", replacement, timezone.now())
    return_request.save()
    sent = _items((p.sku, q) for p, q in merged.values())
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
    *, return_request: ReturnRequest, actor: Actor, note: str = ""
) -> ReturnRequest:
    """Finish an inspected return with neither refund nor exchange."""
    order, return_request = _locked(return_request)
    _transition(return_request, "close", "closed", timezone.now())
    return_request.save()
    events.order_event_return(
        order=order,
        actor=actor,
        message=f"Return {return_request.number} closed without refund or exchange"
        + (f": {note}" if note else "."),
        data={"return": return_request.number, "status": return_request.status},
    )
    return return_request


# ---- refunds


def _money(value, what: str) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise RefundError(
            f"The {what} must be an amount of money, e.g. 12.50."
        ) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise RefundError(
            f"The {what} must be zero or more, with at most two decimals (not {value})."
        )
    return amount.quantize(CENT)


@transaction.atomic
def refund_create(
    *,
    order: Order,
    actor: Actor,
    return_request: ReturnRequest | None = None,
    line_quantities: Mapping[int, int] | None = None,
    shipping: bool = False,
    amount: Decimal | str = Decimal("0"),
    reason: str = "",
) -> Refund:
    """Propose a refund of chosen lines, the shipping and/or an amount.

    It can never exceed what was paid minus what other refunds (pending or
    approved) already hold. A refund for a return covers only units that came
    back, once the return is inspected. A manager approves it.
    """
    order = lock_order(order.pk)
    extra = _money(amount, "other amount")
    line_quantities = {k: v for k, v in (line_quantities or {}).items() if v}
    received: dict[int, int] | None = None
    if return_request is not None:
        return_request = lock_return(return_request.pk)
        if return_request.order_id != order.pk:
            raise RefundError(
                f"Return {return_request.number} belongs to another order than "
                f"{order.number}."
            )
        if return_request.status not in (
            ReturnStatus.INSPECTED,
            ReturnStatus.REFUNDED,
        ):
            raise RefundError(
                f"Return {return_request.number} is "
                f"{return_request.get_status_display()}; its refund waits until the "
                "goods are received and inspected."
            )
        received = {
            line.order_line_id: line.quantity_received
            for line in return_request.lines.all()
        }
    balance = selectors.refund_balance(order=order)
    lines = {line.pk: line for line in order.lines.all()}
    refund_lines = []
    for line_id, quantity in sorted(line_quantities.items()):
        line = lines.get(line_id)
        if line is None:
            raise RefundError(
                f"Order {order.number} has no such line; reload the page."
            )
        if not isinstance(quantity, int) or quantity < 0:
            raise RefundError(
                f"The refunded quantity of {line.sku} must be a whole number."
            )
        already = balance.refunded_units.get(line.pk, 0)
        limit = line.quantity - already
        if received is not None:
            limit = min(limit, received.get(line.pk, 0))
        if quantity > limit:
            raise RefundError(
                f"Cannot refund {quantity} × {line.sku} on order {order.number}: "
                + (
                    f"{received.get(line.pk, 0)} came back on return "
                    f"{return_request.number}, "
                    if received is not None
                    else f"{line.quantity} ordered, "
                )
                + f"{already} already refunded, so at most {max(0, limit)}."
            )
        refund_lines.append(
            RefundLine(
                order_line=line,
                quantity=quantity,
                amount=(line.unit_price * quantity).quantize(CENT),
            )
        )
    shipping_amount = Decimal("0.00")
    if shipping:
        shipping_amount = order.shipping_amount - balance.shipping_refunded
        if shipping_amount <= 0:
            raise RefundError(
                f"The shipping of order {order.number} "
                + (
                    "was already refunded."
                    if order.shipping_amount
                    else "was free; there is nothing to refund."
                )
            )
    lines_amount = sum((line.amount for line in refund_lines), Decimal("0.00"))
    total = lines_amount + shipping_amount + extra
    if total <= 0:
        raise RefundError(
            f"Nothing to refund on order {order.number}: choose lines, the shipping "
            "or an amount."
        )
    if total > balance.refundable:
        raise RefundError(
            f"A refund of {total} {order.currency} on order {order.number} is more "
            f"than is left: {balance.paid} paid, {balance.refunded} already "
            f"refunded or awaiting approval, so at most {balance.refundable} "
            f"{order.currency}."
        )
    refund = Refund.objects.create(
        number=format_number(REFUND_PREFIX, sequence_reserve(name="refund")[0]),
        order=order,
        return_request=return_request,
        lines_amount=lines_amount,
        shipping_amount=shipping_amount,
        extra_amount=extra,
        amount=total,
        reason=reason,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    for line in refund_lines:
        line.refund = refund
    RefundLine.objects.bulk_create(refund_lines)
    parts = [_items((ln.order_line.sku, ln.quantity) for ln in refund_lines)]
    if shipping_amount:
        parts.append(f"shipping {shipping_amount}")
    if extra:
        parts.append(f"other {extra}")
    events.order_event_refund(
        order=order,
        actor=actor,
        message=f"Refund {refund.number} of {total} {order.currency} proposed"
        + (f" for return {return_request.number}" if return_request else "")
        + f" ({'; '.join(p for p in parts if p)})"
        + (f": {reason}" if reason else "")
        + ". It waits for a manager.",
        data={"refund": refund.number, "amount": str(total), "status": "pending"},
    )
    return refund


@transaction.atomic
def refund_approve(*, refund: Refund, actor: Actor, external_reference: str) -> Refund:
    """Approve a refund paid out in the payment system and tell the customer.

    The payment system's reference is recorded; no payment data is stored.
    A return whose refund this is becomes refunded.
    """
    external_reference = external_reference.strip()
    order = lock_order(refund.order_id)
    refund = lock_refund(refund.pk)
    if not external_reference:
        raise RefundError(
            f"Enter the payment system's reference of refund {refund.number} once "
            "the money is sent."
        )
    _ensure(refund, "approve", "approved")
    balance = selectors.refund_balance(order=order, exclude_refund_id=refund.pk)
    if refund.amount > balance.refundable:
        raise RefundError(
            f"Refund {refund.number} of {refund.amount} {order.currency} is more "
            f"than is left on order {order.number} ({balance.refundable} "
            f"{order.currency})."
        )
    refund.approve(actor, external_reference, timezone.now())
    refund.save()
    events.order_event_refund(
        order=order,
        actor=actor,
        message=f"Refund {refund.number} of {refund.amount} {order.currency} "
        f"approved; payment reference {external_reference}.",
        data={"refund": refund.number, "status": refund.status},
    )
    return_request = refund.return_request
    if return_request is not None:
        return_request = lock_return(return_request.pk)
        if can_proceed(return_request.refund):
            return_request.refund(timezone.now())
            return_request.save()
            events.order_event_return(
                order=order,
                actor=actor,
                message=f"Return {return_request.number} refunded ({refund.number}).",
                data={"return": return_request.number, "status": return_request.status},
            )
    customer_email_queue(
        order=order,
        kind=CustomerEmail.Kind.REFUNDED,
        key=refund.number,
        context={
            "amount": str(refund.amount),
            "refund": refund.number,
            "rma": return_request.number if return_request else "",
        },
    )
    return refund


@transaction.atomic
def refund_reject(*, refund: Refund, actor: Actor, note: str = "") -> Refund:
    """Refuse a proposed refund; its amount is free to refund again."""
    order = lock_order(refund.order_id)
    refund = lock_refund(refund.pk)
    _transition(refund, "reject", "rejected", actor, timezone.now())
    refund.save()
    events.order_event_refund(
        order=order,
        actor=actor,
        message=f"Refund {refund.number} of {refund.amount} {order.currency} "
        "rejected" + (f": {note}" if note else "."),
        data={"refund": refund.number, "status": refund.status},
    )
    return refund


def return_label_print_record(*, return_request: ReturnRequest, actor: Actor) -> None:
    """Log a return label print or download: the print log and the timeline."""
    user = actor if actor is not None and actor.is_authenticated else None
    record = DocumentPrint.objects.create(
        kind=DocumentKind.RETURN_LABEL,
        user=user,
        references=[return_request.number],
        pages=1,
    )
    events.order_event_document(
        order=return_request.order_id,
        actor=actor,
        message=f"Return label for {return_request.number} printed.",
        data={"document": DocumentKind.RETURN_LABEL, "print": record.pk},
    ).save()
