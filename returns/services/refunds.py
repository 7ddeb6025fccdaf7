"""Refunds: propose (of a return's units, the shipping, an amount), approve
with the payment system's reference, reject.

A refund never exceeds what was paid minus what other refunds hold. The
order is locked first, so that refunds of one order are decided one at a
time; then the return or refund.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.hooks import REFUND_APPROVED, hook_emit
from core.sequences import format_number, sequence_reserve
from core.users import Actor, acting_user
from orders import events
from orders.emails import customer_email_queue
from orders.locks import lock_order
from orders.models import EmailKind, Order
from orders.money import refund_amount_of
from returns import selectors
from returns.exceptions import RefundError
from returns.locks import lock_refund, lock_return, refuse_changed_return
from returns.models import Refund, RefundLine, ReturnRequest, ReturnStatus
from returns.services.checks import (
    describe_items,
    ensure_transition,
    run_transition,
)

REFUND_PREFIX = "RF"
CENT = Decimal("0.01")


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
    expected_version: int | None = None,
) -> Refund:
    """Propose a refund of chosen lines, the shipping and/or an amount.

    It can never exceed what was paid minus what other refunds (pending or
    approved) already hold. A refund for a return covers only units that came
    back, once the return is inspected. A manager approves it.
    `expected_version` is the return's version when the page was opened.
    """
    order = lock_order(order.pk)
    extra = _money(amount, "other amount")
    line_quantities = {k: v for k, v in (line_quantities or {}).items() if v}
    received: dict[int, int] | None = None
    if return_request is not None:
        return_request = lock_return(return_request.pk)
        refuse_changed_return(return_request, expected_version)
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
                # What the customer paid for these units: the line's total
                # after its discounts, shared over its units.
                amount=refund_amount_of(
                    line_total=line.total,
                    quantity=line.quantity,
                    already=already,
                    refunding=quantity,
                ),
            )
        )
    shipping_amount = Decimal("0.00")
    if shipping:
        # What the customer paid for shipping, after its discount.
        shipping_amount = (
            order.shipping_amount - order.shipping_discount - balance.shipping_refunded
        )
        if shipping_amount <= 0:
            raise RefundError(
                f"The shipping of order {order.number} "
                + (
                    "was already refunded."
                    if order.shipping_amount > order.shipping_discount
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
        created_by=acting_user(actor),
    )
    for line in refund_lines:
        line.refund = refund
    RefundLine.objects.bulk_create(refund_lines)
    parts = [describe_items((ln.order_line.sku, ln.quantity) for ln in refund_lines)]
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
def refund_propose(
    *,
    order: Order,
    return_request: ReturnRequest | None,
    line_quantities: Mapping[int, int],
    shipping: bool,
    amount: Decimal | str,
    reason: str,
    actor: Actor,
    external_reference: str = "",
    expected_version: int | None = None,
) -> Refund:
    """Propose a refund; with the payment system's reference, approve it at once.

    Staff without the right to approve leave the reference empty and a
    manager approves the pending refund later.
    """
    refund = refund_create(
        order=order,
        return_request=return_request,
        line_quantities=line_quantities,
        shipping=shipping,
        amount=amount,
        reason=reason,
        actor=actor,
        expected_version=expected_version,
    )
    if not external_reference:
        return refund
    # refund_create holds the order's and the return's locks; the new refund
    # row is this transaction's own.
    return _refund_approve_locked(
        order=refund.order,
        refund=refund,
        actor=actor,
        external_reference=external_reference,
        return_request=refund.return_request,
    )


@transaction.atomic
def refund_approve(*, refund: Refund, actor: Actor, external_reference: str) -> Refund:
    """Approve a refund paid out in the payment system and tell the customer.

    The payment system's reference is recorded; no payment data is stored.
    A return whose refund this is becomes refunded.
    """
    order = lock_order(refund.order_id)
    refund = lock_refund(refund.pk)
    return _refund_approve_locked(
        order=order, refund=refund, actor=actor, external_reference=external_reference
    )


def _refund_approve_locked(
    *,
    order: Order,
    refund: Refund,
    actor: Actor,
    external_reference: str,
    return_request: ReturnRequest | None = None,
) -> Refund:
    """Approve `refund`; the caller holds the locks of its order and of
    `return_request` (its return, when the caller locked it already)."""
    external_reference = external_reference.strip()
    if not external_reference:
        raise RefundError(
            f"Enter the payment system's reference of refund {refund.number} once "
            "the money is sent."
        )
    ensure_transition(refund, "approve", "approved")
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
    if return_request is None and refund.return_request_id is not None:
        return_request = lock_return(refund.return_request_id)
    if return_request is not None and can_proceed(return_request.refund):
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
        kind=EmailKind.REFUNDED,
        key=refund.number,
        context={
            "amount": str(refund.amount),
            "refund": refund.number,
            "rma": return_request.number if return_request else "",
        },
    )
    hook_emit(
        REFUND_APPROVED,
        order=order,
        refund_number=refund.number,
        amount=refund.amount,
        lines=[
            {"sku": line.order_line.sku, "quantity": line.quantity}
            for line in refund.lines.select_related("order_line").order_by("pk")
        ],
        reason=refund.reason,
    )
    return refund


@transaction.atomic
def refund_reject(*, refund: Refund, actor: Actor, note: str = "") -> Refund:
    """Refuse a proposed refund; its amount is free to refund again."""
    order = lock_order(refund.order_id)
    refund = lock_refund(refund.pk)
    run_transition(refund, "reject", "rejected", actor, timezone.now())
    refund.save()
    events.order_event_refund(
        order=order,
        actor=actor,
        message=f"Refund {refund.number} of {refund.amount} {order.currency} "
        "rejected" + (f": {note}" if note else "."),
        data={"refund": refund.number, "status": refund.status},
    )
    return refund
