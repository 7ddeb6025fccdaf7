"""Row locks for orders."""

from core.lookups import any_of
from orders.models import CustomerRequest, Order


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


def lock_order_rows(pks: list[int]) -> list[tuple[int, str, str]]:
    """Lock several orders in pk order and return (pk, status, ship_country)
    of each: for set-based work on thousands of orders, without model rows."""
    return list(
        Order.objects.select_for_update(of=("self",))
        .filter(any_of("pk", pks))
        .order_by("pk")
        .values_list("pk", "status", "ship_country")
    )


def lock_customer_request(pk: int) -> CustomerRequest:
    """Lock a customer's request row (after its order's: orders first) and
    return it fresh."""
    return CustomerRequest.objects.select_for_update().order_by("pk").get(pk=pk)
