"""Reads for inventory pages and reports."""

from collections.abc import Iterable

from django.db.models import F, QuerySet

from inventory.models import Location, StockLevel, StockMovement


def stock_levels_below_reorder_point() -> QuerySet[StockLevel]:
    """Stock levels whose free stock has fallen to or below their reorder point."""
    return StockLevel.objects.filter(
        reorder_point__gt=0, on_hand__lte=F("allocated") + F("reorder_point")
    )


def product_movements(*, product_id: int, limit: int = 50) -> list[StockMovement]:
    """Return a product's latest ledger entries with their location and user."""
    return list(
        StockMovement.objects.filter(product_id=product_id)
        .select_related("location", "user")
        .order_by("-created_at", "-pk")[:limit]
    )


def stock_free_exists(*, product_ids: list[int]) -> bool:
    """Whether any active location has unreserved stock of these products."""
    return StockLevel.objects.filter(
        product_id__in=product_ids, location__active=True, on_hand__gt=F("allocated")
    ).exists()


def countries_no_location_ships_to(*, countries: Iterable[str]) -> set[str]:
    """Return those of these country codes that no active location ships to
    (a location without shipping countries ships everywhere). One query."""
    wanted = {str(country).upper() for country in countries if country}
    if not wanted:
        return set()
    reached: set[str] = set()
    for location in Location.objects.filter(active=True).only("ships_to"):
        if not location.ships_to_countries:
            return set()
        reached |= location.ships_to_countries
    return wanted - reached
