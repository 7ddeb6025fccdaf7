"""Row locks for stock, always taken in primary-key order so that no two
transactions can wait on each other (no deadlocks)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from inventory.models import StockLevel


def lock_stock_levels(queryset: QuerySet[StockLevel]) -> list[StockLevel]:
    """Lock the stock levels of a queryset, in pk order, and return them."""
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_stock_levels_by_pk(pks: Iterable[int]) -> dict[int, StockLevel]:
    """Lock the stock levels with these primary keys and map them by pk."""
    levels = lock_stock_levels(
        StockLevel.objects.filter(pk__in=set(pks)).select_related("product", "location")
    )
    return {level.pk: level for level in levels}
