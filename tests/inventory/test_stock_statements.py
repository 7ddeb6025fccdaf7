"""The allocation engine's writes hold the stock levels' row locks until the
commit, so on PostgreSQL each is one set-based statement per batch: reserving
(stock levels, their history and the allocation rows together) and releasing
(allocations, stock levels and history together). The ledger, the history
and the invariants hold as before, on both databases."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from fulfillment.outbox import stock as outbox_stock
from inventory.allocation import Demand
from inventory.models import Allocation, StockLevel
from inventory.services import AllocationRequest, stock_allocate_many, stock_release
from tests.factories import LocationFactory, ProductFactory


def _history(level):
    return list(
        StockLevel.history.filter(id=level.pk)
        .order_by("history_id")
        .values_list("on_hand", "allocated", "history_change_reason")
    )


def _statements(captured, table):
    return [q["sql"] for q in captured.captured_queries if table in q["sql"]]


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


@pytest.mark.postgres
@pytest.mark.django_db
def test_reserving_a_batch_writes_with_one_statement(stock, place_order):
    products = [ProductFactory() for _ in range(6)]
    far = LocationFactory(code="FAR", priority=9)
    for product in products:
        stock(product, 4)
        stock(product, 4, at=far)
    orders = [
        place_order([(products[n % 6], 2), (products[(n + 1) % 6], 1)], allocate=False)
        for n in range(10)
    ]
    requests = [
        AllocationRequest(
            key=order.pk,
            demands=[
                Demand(line.pk, line.product_id, line.quantity)
                for line in order.lines.all()
            ],
            country="US",
        )
        for order in orders
    ]

    with CaptureQueriesContext(connection) as captured:
        stock_allocate_many(requests=requests)

    # Lock the levels with stock free, then one statement for levels, history
    # and allocations; the outbox asks which channels push stock.
    writes = _statements(captured, "inventory_")
    assert len(writes) == 2
    assert "FOR UPDATE" in writes[0]
    assert Allocation.objects.count() == 20
    assert StockLevel.history.filter(history_change_reason="reserved for orders")


@pytest.mark.postgres
@pytest.mark.django_db
def test_releasing_many_lines_costs_two_statements(stock, place_order):
    products = [ProductFactory() for _ in range(5)]
    far = LocationFactory(code="FAR", priority=9)
    for product in products:
        stock(product, 1)
        stock(product, 2, at=far)
    # Neither location holds three of each: every line is split over both.
    order = place_order([(product, 3) for product in products])
    assert Allocation.objects.count() == 10

    with CaptureQueriesContext(connection) as captured:
        stock_release(order_line_ids=order.lines.values_list("pk", flat=True))

    # The lines (the caller's queryset), the levels' locks, one write.
    assert len(_statements(captured, "inventory_")) == 2
    assert not Allocation.objects.exists()
    assert set(StockLevel.objects.values_list("allocated", flat=True)) == {0}


@pytest.mark.django_db
def test_channels_that_push_stock_are_remembered_for_the_cache_time(
    channel, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(outbox_stock.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(outbox_stock, "_CHANNELS_SEEN", [])
    channel.webhook_url = "https://shop.example.com/hook"
    channel.save()

    with override_settings(OMS_STOCK_PUSH_CHANNELS_CACHE_SECONDS=5):
        assert outbox_stock._pushing_channels() == []
        channel.push_stock = True
        channel.save()
        with CaptureQueriesContext(connection) as captured:
            assert outbox_stock._pushing_channels() == []
        assert captured.captured_queries == []

        clock[0] += 5
        assert outbox_stock._pushing_channels() == [channel]


@pytest.mark.django_db
def test_without_a_cache_time_every_stock_write_reads_the_channels(channel):
    channel.webhook_url = "https://shop.example.com/hook"
    channel.save()
    assert outbox_stock._pushing_channels() == []

    channel.push_stock = True
    channel.save()

    assert outbox_stock._pushing_channels() == [channel]
