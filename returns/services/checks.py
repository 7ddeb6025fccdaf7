"""What every return and refund service does first: lock the rows in the
global order (the order, then the return), refuse a step taken on a stale
page, and refuse a transition the state machine does not allow."""

from collections.abc import Iterable

from django_fsm import can_proceed

from orders.locks import lock_order
from orders.models import Order
from returns.exceptions import ReturnChangedError, ReturnStateError
from returns.locks import lock_return
from returns.models import Refund, ReturnRequest


def ensure_version(return_request: ReturnRequest, expected_version: int | None) -> None:
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
    ensure_version(return_request, expected_version)
    return order, return_request


def ensure_transition(obj: ReturnRequest | Refund, name: str, verb: str) -> None:
    """Raise a domain error naming the object and its state unless the
    transition `name` may run now."""
    if not can_proceed(getattr(obj, name)):
        what = "Return" if isinstance(obj, ReturnRequest) else "Refund"
        raise ReturnStateError(
            f"{what} {obj.number} is {obj.get_status_display()} and cannot be {verb}."
        )


def run_transition(obj: ReturnRequest | Refund, name: str, verb: str, *args) -> None:
    """Run a transition, or raise a domain error naming the object and its state."""
    ensure_transition(obj, name, verb)
    getattr(obj, name)(*args)


def describe_items(pairs: Iterable[tuple[str, int]]) -> str:
    """Return `2 × SKU-1, 1 × SKU-2` for (sku, quantity) pairs."""
    return ", ".join(f"{quantity} × {sku}" for sku, quantity in pairs)
