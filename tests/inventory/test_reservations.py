"""Reserving and releasing stock keep the stock levels, the allocation rows
and the levels' field history in step."""

import pytest

from inventory.allocation import Demand
from inventory.models import Allocation
from inventory.services import AllocationRequest, stock_allocate_many, stock_release
from tests.factories import ProductFactory


def _history(level):
    """(on_hand, allocated, reason) of each change of `level`, oldest first."""
    return [
        (event.on_hand, event.allocated, (event.pgh_context or {}).get("reason"))
        for event in level.history.order_by("pgh_id")
        if event.pgh_label == "update"
    ]


@pytest.mark.django_db
def test_reserve_and_release_keep_levels_allocations_and_history_in_step(
    stock, place_order
):
    shirt, mug = ProductFactory(), ProductFactory()
    shirts, mugs = stock(shirt, 5), stock(mug, 3)
    order = place_order([(shirt, 2), (mug, 3)], allocate=False)
    line_ids = list(order.lines.values_list("pk", flat=True))

    results = stock_allocate_many(
        requests=[
            AllocationRequest(
                key=order.pk,
                demands=[
                    Demand(line.pk, line.product_id, line.quantity)
                    for line in order.lines.all()
                ],
                country="US",
            )
        ]
    )

    assert results[order.pk].complete
    shirts.refresh_from_db()
    mugs.refresh_from_db()
    assert (shirts.allocated, mugs.allocated) == (2, 3)
    assert sorted(Allocation.objects.values_list("stock_level_id", "quantity")) == (
        sorted([(shirts.pk, 2), (mugs.pk, 3)])
    )
    assert _history(shirts)[-1] == (5, 2, "reserved for orders")

    released = stock_release(order_line_ids=line_ids)

    assert released == sorted([shirt.pk, mug.pk])
    shirts.refresh_from_db()
    mugs.refresh_from_db()
    assert (shirts.allocated, mugs.allocated) == (0, 0)
    assert not Allocation.objects.exists()
    assert _history(shirts)[-1] == (5, 0, "reservation released")
    assert _history(mugs)[-1] == (3, 0, "reservation released")


@pytest.mark.django_db
def test_release_of_lines_without_reservations_changes_nothing(stock, place_order):
    shirt = ProductFactory()
    level = stock(shirt, 1)
    order = place_order([(shirt, 4)], allocate=False)
    before = _history(level)

    assert stock_release(order_line_ids=order.lines.values_list("pk", flat=True)) == []
    assert _history(level) == before


@pytest.mark.django_db
def test_a_line_topped_up_at_the_same_level_adds_to_its_row(stock, place_order):
    shirt = ProductFactory()
    level = stock(shirt, 1)
    order = place_order([(shirt, 3)])
    line = order.lines.get()
    stock(shirt, 5)

    stock_allocate_many(
        requests=[
            AllocationRequest(
                key=order.pk, demands=[Demand(line.pk, shirt.pk, 2)], country="US"
            )
        ]
    )

    assert list(Allocation.objects.values_list("stock_level_id", "quantity")) == [
        (level.pk, 3)
    ]
    level.refresh_from_db()
    assert (level.on_hand, level.allocated) == (6, 3)
