"""Ship-by dates follow the location allocation chose: intake expects the
best location for the country; once stock is reserved elsewhere (or at
several), the date moves to their working days, the latest of them. Orders
whose date stays are not written."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order
from orders.services.allocation import backorders_reallocate, orders_allocate
from orders.services.shipby import ship_by_follow_allocation
from tests.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = datetime.date
# Friday after the cut-off (14:00): Monday 23 at a Monday-to-Friday location.
FRIDAY_LATE = timezone.make_aware(datetime.datetime(2026, 11, 20, 15, 0))
MONDAY = D(2026, 11, 23)
# The second warehouse is closed on Monday 23 and Tuesday 24.
WEDNESDAY = D(2026, 11, 25)


@pytest.fixture
def closed_early_week(db):
    # Worse priority than the conftest's RNO (10): intake expects RNO.
    return LocationFactory(code="BER", priority=20, holidays="2026-11-23\n2026-11-24")


# The read of the orders whose date may move (values_list names its columns).
SHIP_BY_READ = '"orders_channel"."handling_days" AS "channel__handling_days"'


def ship_by_updates(captured) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if 'UPDATE "orders_order"' in q["sql"] and "ship_by" in q["sql"]
    ]


def test_stock_reserved_at_another_location_moves_ship_by(
    place_order, stock, closed_early_week
):
    shirt = ProductFactory()
    stock(shirt, 1, at=closed_early_week)

    order = place_order([(shirt, 1)], placed_at=FRIDAY_LATE)

    assert order.ship_by == WEDNESDAY  # the instance the caller holds, too
    stored = Order.objects.get(pk=order.pk)
    assert stored.ship_by == WEDNESDAY
    assert stored.history.latest().ship_by == WEDNESDAY


def test_split_over_two_locations_takes_the_latest(
    place_order, stock, location, closed_early_week
):
    shirt = ProductFactory()
    stock(shirt, 1)
    stock(shirt, 1, at=closed_early_week)

    order = place_order([(shirt, 2)], placed_at=FRIDAY_LATE)

    assert Order.objects.get(pk=order.pk).ship_by == WEDNESDAY


def test_a_batch_writes_only_the_orders_whose_date_moves(
    place_order, stock, location, closed_early_week
):
    here, there = ProductFactory(), ProductFactory()
    stock(here, 2)
    stock(there, 1, at=closed_early_week)
    stays = place_order([(here, 1)], allocate=False, placed_at=FRIDAY_LATE)
    moves = place_order([(there, 1)], allocate=False, placed_at=FRIDAY_LATE)
    also_stays = place_order([(here, 1)], allocate=False, placed_at=FRIDAY_LATE)
    before = {o.pk: Order.objects.get(pk=o.pk).ship_by for o in (stays, also_stays)}
    assert set(before.values()) == {MONDAY}

    with CaptureQueriesContext(connection) as captured:
        orders_allocate(order_ids=[stays.pk, moves.pk, also_stays.pk], actor=None)

    assert len(ship_by_updates(captured)) == 1
    assert Order.objects.get(pk=moves.pk).ship_by == WEDNESDAY
    for pk, ship_by in before.items():
        assert Order.objects.get(pk=pk).ship_by == ship_by


def test_only_dates_that_change_are_written(place_order, location, closed_early_week):
    orders = [
        place_order([(ProductFactory(), 1)], allocate=False, placed_at=FRIDAY_LATE)
        for _ in range(3)
    ]
    reserved_at = {
        orders[0].pk: ("US", ["RNO"]),
        orders[1].pk: ("US", ["BER"]),
        orders[2].pk: ("US", ["RNO", "BER"]),
    }

    with CaptureQueriesContext(connection) as first:
        moved = ship_by_follow_allocation(reserved_at=reserved_at)
    with CaptureQueriesContext(connection) as again:
        moved_again = ship_by_follow_allocation(reserved_at=reserved_at)

    assert moved == {orders[1].pk: WEDNESDAY, orders[2].pk: WEDNESDAY}
    assert len(ship_by_updates(first)) == 1
    assert [q for q in first.captured_queries if SHIP_BY_READ in q["sql"]]
    # Read again, found where they belong: nothing written.
    assert moved_again == {}
    assert ship_by_updates(again) == []
    assert Order.objects.get(pk=orders[0].pk).ship_by == MONDAY


def test_orders_at_the_expected_location_cost_no_order_read(place_order, stock):
    shirt = ProductFactory()
    stock(shirt, 3)
    LocationFactory(code="BER", priority=20, holidays="2026-11-23")  # no stock
    order_ids = [
        place_order([(shirt, 1)], allocate=False, placed_at=FRIDAY_LATE).pk
        for _ in range(3)
    ]

    with CaptureQueriesContext(connection) as captured:
        orders_allocate(order_ids=order_ids, actor=None)

    assert ship_by_updates(captured) == []
    # The orders' placing times and channels are not read for a new date.
    assert not [q for q in captured.captured_queries if SHIP_BY_READ in q["sql"]]
    assert set(
        Order.objects.filter(pk__in=order_ids).values_list("ship_by", flat=True)
    ) == {MONDAY}


def test_backorder_served_later_elsewhere_keeps_the_latest(
    place_order, stock, location, closed_early_week
):
    shirt = ProductFactory()
    stock(shirt, 1)
    order = place_order([(shirt, 2)], placed_at=FRIDAY_LATE)
    assert Order.objects.get(pk=order.pk).ship_by == MONDAY  # 1 of 2 at RNO

    stock(shirt, 1, at=closed_early_week)
    backorders_reallocate(product_ids=[shirt.pk])

    # Reserved at RNO (earlier) and BER (now): BER's calendar is the later one.
    assert Order.objects.get(pk=order.pk).ship_by == WEDNESDAY
