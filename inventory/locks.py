"""Row locks for stock, always taken in primary-key order so that no two
transactions can wait on each other (no deadlocks).

Stock levels are the only rows inventory locks, and it locks them last:
callers hold their orders' (and shipments') locks first.
"""

from collections.abc import Iterable
from typing import NamedTuple

from django.db.models import F

from inventory.models import Allocation, StockLevel


def lock_stock_levels_by_pk(pks: Iterable[int]) -> dict[int, StockLevel]:
    """Lock the stock levels with these primary keys and map them by pk."""
    levels = (
        StockLevel.objects.filter(pk__in=set(pks))
        .select_related("product", "location")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    return {level.pk: level for level in levels}


def lock_stock_levels_holding(order_line_ids: list[int]) -> dict[int, int]:
    """Lock the stock levels these order lines hold reservations on, in pk
    order; map each level's pk to its product's."""
    held = Allocation.objects.filter(order_line_id__in=order_line_ids).values(
        "stock_level_id"
    )
    return dict(
        StockLevel.objects.filter(pk__in=held)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "product_id")
    )


class FreeStock(NamedTuple):
    """A locked stock level with stock free, as the allocation engine reads it."""

    pk: int
    product_id: int
    location_id: int
    available: int
    priority: int
    code: str
    ships_to: frozenset[str]
    sku: str

    def can_ship_to(self, country: str) -> bool:
        return not self.ships_to or str(country).upper() in self.ships_to


def lock_free_stock(
    product_ids: Iterable[int], *, lock: bool = True
) -> list[FreeStock]:
    """Lock the stock levels of these products that have stock free at an
    active location, in pk order, and return them as plain rows. With
    `lock=False` only read them (to plan before locking, then compare).

    A level that is full has nothing to give and stays unlocked, so on
    scarce stock orders for the same products do not queue behind each other
    for it. (PostgreSQL re-checks the condition on a row it waited for, so a
    level another transaction just filled is skipped, never over-reserved.)
    Plain rows rather than model instances: the locks are held from here to
    the commit, and building three models per level is time spent holding
    them.
    """
    levels = StockLevel.objects.filter(
        product_id__in=set(product_ids),
        location__active=True,
        allocated__lt=F("on_hand"),
    )
    if lock:
        levels = levels.select_for_update(of=("self",))
    rows = levels.order_by("pk").values_list(
        "pk",
        "product_id",
        "location_id",
        "on_hand",
        "allocated",
        "location__priority",
        "location__code",
        "location__ships_to",
        "product__sku",
    )
    return [
        FreeStock(
            pk,
            product_id,
            location_id,
            on_hand - allocated,
            priority,
            code,
            _countries(ships_to),
            sku,
        )
        for (
            pk,
            product_id,
            location_id,
            on_hand,
            allocated,
            priority,
            code,
            ships_to,
            sku,
        ) in rows
    ]


def _countries(ships_to) -> frozenset[str]:
    """The country codes of a location's `ships_to` as read by `values_list`:
    the stored comma-separated text (or a list, should the field convert it)."""
    if not ships_to:
        return frozenset()
    if isinstance(ships_to, str):
        return frozenset(code.strip().upper() for code in ships_to.split(",") if code)
    return frozenset(str(code).upper() for code in ships_to)
