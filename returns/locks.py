"""Row locks for returns and refunds, always after the order they belong to.

Global order (see docs/architecture.md, "Lock order"): the order
(`orders.locks`), then its return, then the return's refund. A page that
acts on a return passes the version it showed, and `refuse_changed_return`
compares it with the locked row.
"""

from orders.locks import lock_order
from orders.models import Order
from returns.exceptions import ReturnChangedError
from returns.models import Refund, ReturnRequest


def lock_return(pk: int) -> ReturnRequest:
    """Lock one return for the rest of the transaction and return it fresh."""
    return (
        ReturnRequest.objects.select_for_update(of=("self",))
        .select_related("order__channel", "order__customer")
        .order_by("pk")
        .get(pk=pk)
    )


def lock_refund(pk: int) -> Refund:
    """Lock one refund for the rest of the transaction and return it fresh."""
    return (
        Refund.objects.select_for_update(of=("self",))
        .select_related("order__channel", "order__customer", "return_request")
        .order_by("pk")
        .get(pk=pk)
    )


def refuse_changed_return(
    return_request: ReturnRequest, expected_version: int | None
) -> None:
    """Refuse a step taken on a page opened before someone else's change.

    `return_request` must be the locked row; None skips the check.
    """
    if expected_version is not None and expected_version != return_request.version:
        raise ReturnChangedError(
            f"Return {return_request.number} was changed by someone else while you "
            "were working on it; nothing was saved. Check it and try again."
        )


def lock_return_and_order(
    return_request: ReturnRequest, *, expected_version: int | None = None
) -> tuple[Order, ReturnRequest]:
    """Lock the return's order, then the return, and check the page's version."""
    order = lock_order(return_request.order_id)
    return_request = lock_return(return_request.pk)
    refuse_changed_return(return_request, expected_version)
    return order, return_request
