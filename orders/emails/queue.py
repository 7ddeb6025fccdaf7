"""Customer e-mails asked for: once per event, in the caller's transaction.

The orders app says what a customer must hear (the kind, the orders, the
event's key and what the templates add); the e-mails are messages of the one
outbox (`connections.outbox.email` records them through the
`customer.email` hook in this transaction and delivers them after commit).
"""

from collections.abc import Sequence
from typing import Any

from core.hooks import CUSTOMER_EMAIL, hook_emit
from orders.models import Order


def customer_email_queue(
    *, order: Order, kind: str, key: str = "", context: dict[str, Any] | None = None
) -> None:
    """Queue one e-mail to the order's customer about an event, unless the
    channel mails its own customers, the customer gave no address, or this
    event was mailed already.

    `key` tells events of the same kind apart (a shipment number, a return);
    the e-mail goes out after the surrounding transaction commits.
    """
    if not order.channel.send_customer_emails or not order.customer.email:
        return
    hook_emit(
        CUSTOMER_EMAIL,
        kind=kind,
        order_ids=[order.pk],
        key=key,
        context=context or {},
    )


def customer_emails_queue_many(*, order_ids: Sequence[int], kind: str) -> None:
    """Queue the same kind of e-mail for many orders at once (bulk imports):
    one set-based write; orders whose channel mails its own customers, and
    events already queued, are skipped."""
    order_ids = list(order_ids)
    if order_ids:
        hook_emit(CUSTOMER_EMAIL, kind=kind, order_ids=order_ids, key="", context={})
