"""Set-based allocation (imports) reserves exactly what allocating the same
orders one by one would, for every routing rule; and it writes in bulk."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Allocation, StockLevel
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.allocation import order_allocate, orders_allocate_many
from orders.services.lifecycle import order_cancel
from tests.factories import LocationFactory, ProductFactory

# Each case: stock as (sku, site, quantity), orders as (items, country,
# priority, days ago placed). Mirrors the cases of test_allocation.py, plus
# orders competing for scarce stock (priority first, then oldest).
CASES = {
    "one location with everything beats priority": (
        [("A", "near", 5), ("A", "far", 5), ("B", "far", 5)],
        [([("A", 1), ("B", 1)], "US", 0, 1)],
    ),
    "priority between locations that both can ship": (
        [("A", "far", 5), ("A", "near", 5)],
        [([("A", 2)], "US", 0, 1)],
    ),
    "only locations that ship to the country": (
        [("A", "eu", 5), ("A", "far", 5)],
        [([("A", 1)], "CA", 0, 3), ([("A", 1)], "FR", 0, 2), ([("A", 1)], "JP", 0, 1)],
    ),
    "split only when no single location can ship": (
        [("A", "near", 3), ("B", "far", 3), ("A", "far", 1)],
        [([("A", 4), ("B", 2)], "US", 0, 1)],
    ),
    "short stock reserves what is there": (
        [("A", "near", 2)],
        [([("A", 5)], "US", 0, 1)],
    ),
    "scarce stock goes priority first, then oldest": (
        [("A", "near", 3), ("A", "far", 2), ("B", "far", 1)],
        [
            ([("A", 2)], "US", 0, 5),
            ([("A", 2), ("B", 1)], "US", 0, 4),
            ([("A", 2)], "US", 2, 1),
            ([("B", 1)], "US", 1, 2),
            ([("A", 1)], "CA", 0, 3),
        ],
    ),
}


@pytest.fixture
def sites(db):
    return {
        "near": LocationFactory(code="NEAR", priority=1, ships_to="US"),
        "far": LocationFactory(code="FAR", priority=5, ships_to="US CA"),
        "eu": LocationFactory(code="EU", priority=1, country="DE", ships_to="DE FR"),
    }


def _place(case, suffix, sites, stock, place_order):
    """Stock fresh products (SKU + suffix) and place the case's orders unallocated."""
    stock_rows, order_rows = case
    products = {}
    for sku, site, quantity in stock_rows:
        if sku not in products:
            products[sku] = ProductFactory(sku=f"{sku}{suffix}")
        stock(products[sku], quantity, at=sites[site])
    for sku, _qty in (item for items, *_ in order_rows for item in items):
        if sku not in products:
            products[sku] = ProductFactory(sku=f"{sku}{suffix}")
    now = timezone.now()
    return [
        place_order(
            [(products[sku], qty) for sku, qty in items],
            country=country,
            priority=priority,
            placed_at=now - timedelta(days=days_ago),
            allocate=False,
        )
        for items, country, priority, days_ago in order_rows
    ]


def _outcome(orders, suffix):
    """Per order, in placing order: status and (location, SKU, quantity) reserved."""
    return [
        (
            Order.objects.get(pk=order.pk).status,
            sorted(
                (code, sku.removesuffix(suffix), quantity)
                for code, sku, quantity in Allocation.objects.filter(
                    order_line__order=order
                ).values_list(
                    "stock_level__location__code", "order_line__sku", "quantity"
                )
            ),
        )
        for order in orders
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", CASES)
def test_set_based_allocation_reserves_what_one_by_one_allocation_does(
    name, sites, stock, place_order, user
):
    case = CASES[name]
    one_by_one = _place(case, "-1", sites, stock, place_order)
    set_based = _place(case, "-2", sites, stock, place_order)

    # One by one: each order in its own transaction, priority first, then oldest.
    for order in sorted(one_by_one, key=lambda o: (-o.priority, o.placed_at)):
        order_allocate(order=order, actor=user)
    # Set-based: all at once, in whatever order the ids come.
    counts = orders_allocate_many(
        order_ids=[order.pk for order in reversed(set_based)], actor=user
    )

    assert _outcome(set_based, "-2") == _outcome(one_by_one, "-1")
    assert sum(counts.values()) == len(set_based)


@pytest.mark.django_db
def test_set_based_allocation_says_when_no_location_ships_to_the_country(
    sites, stock, place_order, location, user
):
    location.ships_to = ["US"]  # the default location, too, ships to the US only
    location.save()
    a = ProductFactory(sku="A")
    stock(a, 3, at=sites["near"])
    japan, us = (
        place_order([(a, 1)], country="JP", allocate=False),
        place_order([(a, 9)], allocate=False),
    )

    orders_allocate_many(order_ids=[japan.pk, us.pk], actor=user)

    assert OrderEvent.objects.get(order=japan, kind="backordered").message == (
        "No location ships to Japan: add the country to a location's shipping "
        "countries or cancel the order."
    )
    assert OrderEvent.objects.get(order=us, kind="backordered").message == (
        "Waiting for stock: 6 × A."
    )


@pytest.mark.django_db
def test_set_based_allocation_writes_the_same_timeline_and_stock(
    sites, stock, place_order, user
):
    a = ProductFactory(sku="A")
    stock(a, 3, at=sites["near"])
    orders = [place_order([(a, 2)], allocate=False) for _ in range(2)]

    orders_allocate_many(order_ids=[o.pk for o in orders], actor=user)

    first, second = (Order.objects.get(pk=o.pk) for o in orders)
    assert (first.status, second.status) == (
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
    )
    assert first.version == orders[0].version + 1
    assert OrderEvent.objects.get(order=first, kind="allocated").message == (
        "Stock reserved at NEAR: 2 × A."
    )
    assert OrderEvent.objects.get(order=second, kind="backordered").message == (
        "Waiting for stock: 1 × A."
    )
    level = StockLevel.objects.get(product=a)
    assert (level.on_hand, level.allocated) == (3, 3)
    assert first.history.first().status == OrderStatus.ALLOCATED


@pytest.mark.django_db
def test_set_based_allocation_leaves_orders_cancelled_meanwhile_alone(
    sites, stock, place_order, user
):
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["near"])
    kept, cancelled = (place_order([(a, 1)], allocate=False) for _ in range(2))
    order_cancel(order=cancelled, actor=user, reason="changed mind")

    counts = orders_allocate_many(order_ids=[kept.pk, cancelled.pk], actor=user)

    assert counts == {OrderStatus.ALLOCATED: 1}
    assert Order.objects.get(pk=cancelled.pk).status == OrderStatus.CANCELLED
    assert not Allocation.objects.filter(order_line__order=cancelled).exists()


@pytest.mark.django_db
def test_set_based_allocation_runs_in_chunks_and_tops_up_backorders(
    sites, stock, place_order, user
):
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["near"])
    orders = [place_order([(a, 2)], allocate=False) for _ in range(3)]
    orders_allocate_many(order_ids=[o.pk for o in orders], actor=user, chunk=2)
    assert _outcome(orders[2:], "") == [(OrderStatus.BACKORDERED, [("NEAR", "A", 1)])]

    stock(a, 1, at=sites["near"])
    orders_allocate_many(order_ids=[orders[2].pk], actor=user)

    # The same allocation row grows: one reservation per line and location.
    assert _outcome(orders[2:], "") == [(OrderStatus.ALLOCATED, [("NEAR", "A", 2)])]
    assert StockLevel.objects.get(product=a).allocated == 6
