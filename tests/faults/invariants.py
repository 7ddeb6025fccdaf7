"""The rules the data must keep after any fault, as one reusable check.

`violations()` returns every broken rule by name (all lists empty when the
data is right); `assert_invariants()` fails a test with the details:

- on hand = the sum of the stock movements, per product × location;
- 0 ≤ allocated ≤ on hand;
- allocated = the sum of the open allocations of the stock level;
- refunds (pending or approved) ≤ what was paid, per order;
- one order per (channel, external id).
"""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from inventory.models import Allocation, StockLevel, StockMovement
from orders.models import Order
from returns.models import Refund


def violations() -> dict[str, list]:
    """Return every broken data rule, by name."""
    ledger = {
        (product, location): total
        for product, location, total in StockMovement.objects.values(
            "product", "location"
        )
        .annotate(total=Sum("delta"))
        .values_list("product", "location", "total")
    }
    reserved = dict(
        Allocation.objects.values("stock_level")
        .annotate(total=Sum("quantity"))
        .values_list("stock_level", "total")
    )
    ledger_mismatch, allocation_mismatch = [], []
    for level in StockLevel.objects.all():
        moved = ledger.get((level.product_id, level.location_id), 0)
        if moved != level.on_hand:
            ledger_mismatch.append((level.pk, level.on_hand, moved))
        if reserved.get(level.pk, 0) != level.allocated:
            allocation_mismatch.append(
                (level.pk, level.allocated, reserved.get(level.pk, 0))
            )
    allocated_out_of_bounds = list(
        StockLevel.objects.filter(
            Q(allocated__lt=0) | Q(allocated__gt=F("on_hand"))
        ).values_list("pk", "allocated", "on_hand")
    )
    refunded = (
        Refund.objects.exclude(status=Refund.Status.REJECTED)
        .values("order")
        .annotate(total=Sum("amount"))
        .values_list("order", "total")
    )
    paid = dict(
        Order.objects.filter(pk__in=[order for order, _ in refunded]).values_list(
            "pk", "total"
        )
    )
    over_refunded = [
        (order, total, paid[order])
        for order, total in refunded
        if Decimal(total) > paid[order]
    ]
    duplicates = list(
        Order.objects.values("channel", "external_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("channel", "external_id", "n")
    )
    return {
        "ledger_mismatch": ledger_mismatch,
        "allocated_out_of_bounds": allocated_out_of_bounds,
        "allocation_sum_mismatch": allocation_mismatch,
        "refunds_over_paid": over_refunded,
        "duplicate_orders": duplicates,
    }


def assert_invariants() -> None:
    """Fail with every broken rule when the data does not add up."""
    broken = {name: found for name, found in violations().items() if found}
    assert broken == {}, f"data rules broken after the fault: {broken}"
