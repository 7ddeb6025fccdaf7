"""Reserving stock for order lines and giving it back: the allocation rows
and `allocated` of the stock levels, always changed together."""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import F

from core.bulk import bulk_insert
from core.lookups import any_of, lookup_chunks
from inventory import sql
from inventory.locks import lock_stock_levels_holding
from inventory.models import Allocation
from inventory.services.ledger import stock_announce

# Up to this many allocation rows (one order, a batch) are written with one
# INSERT ... ON CONFLICT; more (an import) stream through COPY after one
# look-up for lines that already hold some.
UPSERT_ROWS = 2000


def stock_reserve(
    picks: Sequence[tuple[int, int, int]],
    *,
    new_lines: bool = False,
    rows: bool = True,
    levels: bool = True,
) -> None:
    """Write reservations (line id, locked stock level pk, quantity) in bulk:
    allocation rows, and `allocated` on each stock level, with the levels'
    field history. With `new_lines` no line holds a reservation yet: the rows
    are only inserted. `rows=False` / `levels=False` leave out the allocation
    rows / the stock levels (an import writes its rows before it locks the
    levels).

    One statement does it all for a batch of orders (the stock levels stay
    locked until the commit, so every statement here is time other orders
    wait); an import's many rows stream through COPY after it.
    """
    if not picks:
        return
    per_level: dict[int, int] = defaultdict(int)
    per_pair: dict[tuple[int, int], int] = defaultdict(int)
    for line_id, level_pk, quantity in picks:
        per_level[level_pk] += quantity
        per_pair[line_id, level_pk] += quantity
    if levels:
        upsert = rows and len(per_pair) <= UPSERT_ROWS
        sql.stock_levels_reserve(per_level, per_pair if upsert else {})
        if upsert:
            return
    if not rows:
        return
    line_ids = [] if new_lines else sorted({line_id for line_id, _ in per_pair})
    existing: dict[tuple[int, int], int] = {}
    for chunk in lookup_chunks(line_ids):
        existing.update(
            ((order_line_id, stock_level_id), pk)
            for pk, order_line_id, stock_level_id in Allocation.objects.filter(
                any_of("order_line__id", chunk), any_of("stock_level__id", per_level)
            ).values_list("pk", "order_line_id", "stock_level_id")
        )
    # Lines topped up (a backorder that got more stock where it already had
    # some): few, one UPDATE each.
    for pair, allocation_pk in sorted(existing.items(), key=lambda item: item[1]):
        if pair in per_pair:
            Allocation.objects.filter(pk=allocation_pk).update(
                quantity=F("quantity") + per_pair.pop(pair)
            )
    bulk_insert(
        Allocation,
        (
            {"order_line_id": line_id, "stock_level_id": level_pk, "quantity": quantity}
            for (line_id, level_pk), quantity in per_pair.items()
        ),
    )


@transaction.atomic
def stock_release(*, order_line_ids: Iterable[int]) -> list[int]:
    """Give back every reservation of these order lines; return the product ids.

    Two statements: lock the stock levels the lines hold (pk order), then
    delete the allocations, give their quantities back and record the
    levels' history in one. The caller holds the orders' locks, so the
    lines' allocations cannot change between the two.
    """
    order_line_ids = sorted(set(order_line_ids))
    if not order_line_ids:
        return []
    levels = lock_stock_levels_holding(order_line_ids)
    if not levels:
        return []
    sql.allocations_release(order_line_ids)
    product_ids = sorted(set(levels.values()))
    stock_announce(changed=product_ids, freed=product_ids)
    return product_ids
