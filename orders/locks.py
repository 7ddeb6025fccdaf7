"""Row locks for orders."""

from orders.models import Order


def lock_order(pk: int) -> Order:
    """Lock one order row for the rest of the transaction and return it fresh."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=pk)
    )


def lock_orders(pks: list[int]) -> list[Order]:
    """Lock several orders in pk order (the order every caller uses)."""
    return list(
        Order.objects.select_for_update(of=("self",))
        .select_related("channel")
        .filter(pk__in=pks)
        .order_by("pk")
    )
