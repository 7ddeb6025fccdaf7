"""What every return and refund service checks: a transition the state
machine does not allow is refused with a message naming the object (the
rows are locked by `returns.locks`)."""

from collections.abc import Iterable

from django_fsm import can_proceed

from returns.exceptions import ReturnStateError
from returns.models import Refund, ReturnRequest


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
