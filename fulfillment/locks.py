"""Row locks for shipments and pick lists, always in primary-key order.

Callers lock the order first (orders.locks), then its shipments, then stock
(inventory.locks): the same order everywhere, so no two transactions wait
on each other.
"""

from collections.abc import Iterable

from fulfillment.models import PickList, Shipment


def lock_shipment(pk: int) -> Shipment:
    """Lock one shipment for the rest of the transaction and return it fresh."""
    return (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order", "location", "carrier")
        .get(pk=pk)
    )


def lock_pick_lists(pks: Iterable[int]) -> list[PickList]:
    """Lock pick lists in pk order and return them."""
    return list(
        PickList.objects.select_for_update(of=("self",))
        .filter(pk__in=set(pks))
        .order_by("pk")
    )
