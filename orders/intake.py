"""Why an order taken in waits on hold, decided the same way by every intake
(the admin, the order API, the shops' webhooks, the CSV import): an address
its country refuses, a total that differs from the one the shop stated, a
payment state the channel does not take in yet.

Pure: nothing here reads or writes the database.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orders.models import Channel, HoldReason
from orders.money import totals_differ


@dataclass(frozen=True)
class IntakeHold:
    """What an order is held for when it comes in: the reason it is held
    with (the first that applies) and a note naming every problem, with the
    figures for the timeline's data."""

    reason: str
    note: str
    data: dict[str, Any] = field(default_factory=dict)


def totals_note(*, stated: Decimal, computed: Decimal, currency: str) -> str:
    """The timeline's words for a total that differs from the shop's."""
    return (
        f"The shop states a total of {stated} {currency}; this system computes "
        f"{computed} {currency} (difference {stated - computed} {currency}). "
        "Check the discounts, shipping and tax against the shop's order before "
        "releasing it."
    )


def payment_note(*, financial_status: str, channel: Channel) -> str:
    """The timeline's words for an order kept until it is paid."""
    taken = ", ".join(channel.accepted_financial_statuses) or "none"
    return (
        f"The shop reports the payment as {financial_status}; {channel.name} "
        f"takes orders in when they are {taken}. No stock is reserved until the "
        "shop reports it paid."
    )


def intake_hold(
    *,
    channel: Channel,
    address_problem: str,
    computed_total: Decimal,
    stated_total: Decimal | None,
    financial_status: str,
    currency: str,
) -> IntakeHold | None:
    """Return what a new order is held for, or None when it is taken in.

    A total that differs comes first (a person must look at the money), then
    the address check, then the payment; the note names each that applies.
    An order released from another hold while still unpaid is held again for
    its payment (`orders.services.payment`).
    """
    reasons: list[str] = []
    notes: list[str] = []
    data: dict[str, Any] = {}
    if totals_differ(computed=computed_total, stated=stated_total):
        reasons.append(HoldReason.TOTALS_DIFFER)
        notes.append(
            totals_note(stated=stated_total, computed=computed_total, currency=currency)
        )
        data.update(stated_total=str(stated_total), computed_total=str(computed_total))
    if address_problem:
        reasons.append(HoldReason.ADDRESS_CHECK)
        notes.append(address_problem)
    if not channel.accepts_payment(financial_status):
        reasons.append(HoldReason.PAYMENT)
        notes.append(payment_note(financial_status=financial_status, channel=channel))
        data["financial_status"] = financial_status
    if not reasons:
        return None
    if len(reasons) > 1:
        data["also"] = reasons[1:]
    return IntakeHold(reason=reasons[0], note=" ".join(notes), data=data)
