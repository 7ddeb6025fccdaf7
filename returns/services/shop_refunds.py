"""Refunds a shop made itself (Shopify's `refunds/create`): recorded, never
proposed or approved here — the money already went back.

The record keeps the OMS's refund balance true (staff cannot refund the same
units again), moves the order's payment state, and stops staff shipping units
the customer has been paid back for.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.sequences import format_number, sequence_reserve
from core.users import Actor
from orders import events
from orders.locks import lock_order
from orders.models import (
    HOLDABLE,
    FinancialStatus,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
)
from orders.services.lifecycle import order_hold
from orders.services.payment import order_payment_update
from returns import selectors
from returns.models import Refund, RefundLine
from returns.services.checks import describe_items
from returns.services.refunds import REFUND_PREFIX

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ShopRefundLine:
    """Units of one SKU the shop refunded, and what they cost the customer
    (after the line's discounts, with their tax) as the shop states it."""

    sku: str
    quantity: int
    amount: Decimal


@dataclass
class ShopRefundOutcome:
    """What recording a shop's refund did."""

    order: Order
    refund: Refund | None = None
    duplicate: bool = False
    held: bool = False
    unshipped: str = ""


def shop_refund_recorded(*, order: Order, reference: str) -> bool:
    """Whether the shop's refund `reference` is already on the order."""
    return order.events.filter(
        kind=events.Kind.REFUND, data__shop_refund=reference
    ).exists()


def _matched(
    order: Order, lines: list[ShopRefundLine], already: dict[int, int]
) -> tuple[list[tuple[OrderLine, int, Decimal]], list[ShopRefundLine]]:
    """Share each refunded SKU's units over the order's lines of that SKU
    (units not yet refunded first); return (line, units, amount) and what
    matched no line."""
    by_sku: dict[str, list[OrderLine]] = {}
    for line in order.lines.order_by("pk"):
        by_sku.setdefault(line.sku, []).append(line)
    matched: list[tuple[OrderLine, int, Decimal]] = []
    unmatched: list[ShopRefundLine] = []
    for refunded in lines:
        left, money = refunded.quantity, refunded.amount
        for line in by_sku.get(refunded.sku, []) if refunded.sku else []:
            room = line.quantity - already.get(line.pk, 0)
            units = min(room, left)
            if units <= 0:
                continue
            share = (
                money
                if units == left
                else (refunded.amount * units / refunded.quantity).quantize(
                    Decimal("0.01")
                )
            )
            matched.append((line, units, share))
            already[line.pk] = already.get(line.pk, 0) + units
            left, money = left - units, money - share
        if left:
            unmatched.append(ShopRefundLine(refunded.sku, left, money))
    return matched, unmatched


def _parts(
    amount: Decimal, lines_amount: Decimal, shipping: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """Split the money paid back into lines, shipping and other, as the shop
    stated them when they fit in it; otherwise all of it as other (the shop's
    figures disagree: its transactions are what the customer got back)."""
    if lines_amount + shipping <= amount:
        return lines_amount, shipping, amount - lines_amount - shipping
    return ZERO, ZERO, amount


@transaction.atomic
def refund_record_from_shop(
    *,
    order: Order,
    reference: str,
    amount: Decimal,
    lines: list[ShopRefundLine],
    shipping_amount: Decimal = ZERO,
    note: str = "",
    source: str,
    actor: Actor = None,
    inbound_message_id: int | None = None,
) -> ShopRefundOutcome:
    """Record a refund the shop (`source`, e.g. "Shopify") paid out.

    An approved refund of `amount` (its reference `reference`) with the units
    it covers; the timeline says what was refunded; the order's payment state
    becomes refunded or partially refunded; refunded units not yet shipped put
    an order not yet picked on hold, and are named on the timeline whatever
    its state, so that nobody ships them. A refund already recorded changes
    nothing (`duplicate`).
    """
    order = lock_order(order.pk)
    if shop_refund_recorded(order=order, reference=reference):
        return ShopRefundOutcome(order=order, duplicate=True)
    balance = selectors.refund_balance(order=order)
    matched, unmatched = _matched(order, lines, dict(balance.refunded_units))
    refund = None
    stated = sum((share for _, _, share in matched), ZERO) + shipping_amount
    if amount > 0:
        parts = _parts(amount, stated - shipping_amount, shipping_amount)
        refund = Refund.objects.create(
            number=format_number(REFUND_PREFIX, sequence_reserve(name="refund")[0]),
            order=order,
            status=Refund.Status.APPROVED,
            lines_amount=parts[0],
            shipping_amount=parts[1],
            extra_amount=parts[2],
            amount=amount,
            reason=(note or _("Refunded in %(source)s") % {"source": source})[:255],
            external_reference=reference[:100],
            decided_at=timezone.now(),
        )
        RefundLine.objects.bulk_create(
            RefundLine(refund=refund, order_line=line, quantity=units, amount=share)
            for line, units, share in matched
        )
    items = [f"{units} × {line.sku} ({share})" for line, units, share in matched] + [
        _("%(quantity)s × %(sku)s (%(amount)s, not on this order)")
        % {
            "quantity": item.quantity,
            "sku": item.sku or _("a line without SKU"),
            "amount": item.amount,
        }
        for item in unmatched
    ]
    if shipping_amount:
        items.append(_("shipping %(amount)s") % {"amount": shipping_amount})
    events.order_event_refund(
        order=order,
        actor=actor,
        message=_("Refunded in %(source)s: %(amount)s %(currency)s")
        % {"source": source, "amount": amount, "currency": order.currency}
        + (f" ({'; '.join(items)})" if items else "")
        + (f": {note}" if note else "")
        + (f" — {refund.number}" if refund else "")
        + "."
        + (
            " "
            + _(
                "The refunded lines and shipping come to %(stated)s as the shop "
                "states them; %(amount)s was paid back."
            )
            % {"stated": stated, "amount": amount}
            if stated > amount
            else ""
        ),
        data={
            "shop_refund": reference,
            "amount": str(amount),
            "shipping": str(shipping_amount),
            "lines": [
                {"sku": line.sku, "quantity": units, "amount": str(share)}
                for line, units, share in matched
            ],
            "refund": refund.number if refund else "",
            "inbound_message_id": inbound_message_id,
        },
    )
    if amount > 0:
        refunded = selectors.refund_balance(order=order).refunded
        order = order_payment_update(
            order=order,
            financial_status=FinancialStatus.REFUNDED
            if refunded >= order.total
            else FinancialStatus.PARTIALLY_REFUNDED,
            actor=actor,
            source=source,
            inbound_message_id=inbound_message_id,
        )
    return _unshipped_stop(order, matched, source, actor)


def _unshipped_stop(
    order: Order,
    matched: list[tuple[OrderLine, int, Decimal]],
    source: str,
    actor: Actor,
) -> ShopRefundOutcome:
    """Hold an order whose refunded units are not shipped yet (or say so on
    its timeline where it cannot be held)."""
    unshipped = describe_items(
        (line.sku, min(units, line.quantity - line.quantity_shipped))
        for line, units, _share in matched
        if line.requires_shipping and line.quantity > line.quantity_shipped
    )
    outcome = ShopRefundOutcome(order=order, unshipped=unshipped)
    if not unshipped or order.status in (
        OrderStatus.CANCELLED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    ):
        return outcome
    text = _("Refunded by the shop (%(source)s): %(items)s; check before shipping.") % {
        "source": source,
        "items": unshipped,
    }
    if order.status in HOLDABLE:
        outcome.order = order_hold(
            order=order, actor=actor, reason=HoldReason.OTHER, note=text
        )
        outcome.held = True
    else:
        # Already on hold, or being picked or packed: staff must see it there.
        events.order_event_refund(
            order=order, actor=actor, message=text, data={"unshipped": unshipped}
        )
    return outcome
