"""The one registry through which an earlier app lets later apps react.

Apps import downward only (`core <- inventory <- orders <- fulfillment <-
returns <- connections <- oms`). Where an earlier app must let a later one
react to what it did (stock freed: backorders are allocated again; stock
changed: the shops hear of it), the earlier app calls `hook_emit(...)` and the
later app registers its handler in its `AppConfig.ready()`. Every hook is
declared in `HOOKS` below with what it carries and when it runs, so the list
of reactions that cross the layers lives in one place.

Handlers are plain functions called with keyword arguments. A hook that runs
inside the caller's transaction must not talk to the network: it records a
row (an outbox message, a queued task) in that transaction, nothing more.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction


@dataclass(frozen=True)
class Hook:
    name: str
    arguments: str
    runs: str  # "in the transaction" or "after commit"


STOCK_AVAILABLE = Hook(
    name="stock.available",
    arguments="product_ids: sorted list of product ids",
    runs="after commit",
)
STOCK_CHANGED = Hook(
    name="stock.changed",
    arguments="product_ids: sorted list of product ids",
    runs="in the transaction",
)
ORDER_EVENT = Hook(
    name="order.event",
    arguments="event: 'order.created' | 'order.cancelled'; order_ids; reason",
    runs="in the transaction",
)

SHIPMENT_EVENT = Hook(
    name="shipment.event",
    arguments=(
        "event: 'shipment.shipped' (the parcel left) | 'shipment.tracking_updated'"
        " (a carrier scan) | 'shipment.tracking_changed' (carrier or tracking"
        " number corrected) | 'shipment.delivered'; shipment"
    ),
    runs="in the transaction",
)
REFUND_APPROVED = Hook(
    name="refund.approved",
    arguments=("order; refund_number; amount; lines: [{'sku', 'quantity'}]; reason"),
    runs="in the transaction",
)

CUSTOMER_EMAIL = Hook(
    name="customer.email",
    arguments=(
        "kind: orders.models.EmailKind; order_ids; key (tells events of one kind"
        " apart: a shipment or return number); context: what the templates add"
    ),
    runs="in the transaction",
)

STAFF_EMAIL = Hook(
    name="staff.email",
    arguments="to: an address of the shop's staff; subject; body (plain text)",
    runs="in the transaction",
)

HOOKS = (
    STOCK_AVAILABLE,
    STOCK_CHANGED,
    ORDER_EVENT,
    SHIPMENT_EVENT,
    REFUND_APPROVED,
    CUSTOMER_EMAIL,
    STAFF_EMAIL,
)

_handlers: dict[str, list[Callable[..., object]]] = {hook.name: [] for hook in HOOKS}


def hook_register(hook: Hook, handler: Callable[..., object]) -> None:
    """Register `handler` for `hook` (once; from an AppConfig.ready())."""
    handlers = _handlers[hook.name]
    if handler not in handlers:
        handlers.append(handler)


def hook_handlers(hook: Hook) -> tuple[Callable[..., object], ...]:
    """Return the handlers registered for `hook`, in registration order."""
    return tuple(_handlers[hook.name])


def hook_emit(hook: Hook, **arguments: object) -> None:
    """Call every handler of `hook` now, or after commit if the hook says so."""
    for handler in _handlers[hook.name]:
        if hook.runs == "after commit":
            transaction.on_commit(lambda h=handler: h(**arguments))
        else:
            handler(**arguments)
