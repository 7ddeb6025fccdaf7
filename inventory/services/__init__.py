"""Every write to stock, by subject: the ledger (`ledger`, `shipping`), the
allocation engine (`allocation`) and reservations with their release
(`reservations`).

The public names are re-exported here: the other apps import them from
`inventory.services`.
"""

from inventory.services.allocation import (
    AllocationRequest,
    AllocationResult,
    stock_allocate_many,
)
from inventory.services.ledger import (
    ADJUSTMENT_REASONS,
    Booking,
    stock_adjust,
    stock_announce,
    stock_book,
    stock_count,
    stock_receive,
    stock_return,
    stock_transfer,
)
from inventory.services.reservations import stock_release, stock_reserve
from inventory.services.shipping import stock_consume, stock_consume_reverse

__all__ = [
    "ADJUSTMENT_REASONS",
    "AllocationRequest",
    "AllocationResult",
    "Booking",
    "stock_adjust",
    "stock_allocate_many",
    "stock_announce",
    "stock_book",
    "stock_consume",
    "stock_consume_reverse",
    "stock_count",
    "stock_receive",
    "stock_release",
    "stock_reserve",
    "stock_return",
    "stock_transfer",
]
