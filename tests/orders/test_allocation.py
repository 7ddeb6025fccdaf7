"""Allocating a batch of orders costs a fixed number of statements, whatever
the batch size: routing pins come with the locked rows, every status change
is one UPDATE, and the "when allocated" rules are skipped without a query
when the process knows there are none."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order, OrderStatus, Rule
from orders.rules.services import rules_exist
from orders.services.allocation import orders_allocate
from tests.factories import ProductFactory
from tests.orders.rules.support import rule

ALLOCATED, PACKED = Rule.Trigger.ALLOCATED, Rule.Trigger.PACKED
EVERY_ORDER = [("item_count", "gte", "1")]


def _batch(place_order, stock, size):
    """`size` pending orders on scarce stock: every other one can be served."""
    shirt = ProductFactory()
    stock(shirt, size // 2)
    return [place_order([(shirt, 1)], allocate=False).pk for _ in range(size)]


def _statements(order_ids):
    with CaptureQueriesContext(connection) as captured:
        orders_allocate(order_ids=order_ids, actor=None)
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_statements_per_batch_do_not_grow_with_orders(place_order, stock):
    small = _batch(place_order, stock, 4)
    large = _batch(place_order, stock, 20)

    assert _statements(small) == _statements(large)
    # Lock orders, lines, lock levels, the reservation (levels and
    # allocations in one statement), events (COPY, not counted), statuses
    # (history by the tables' triggers), the channels and locations of the
    # ship-by dates, the history context cleared after each of its two
    # blocks, and the savepoint's own statements.
    assert _statements(_batch(place_order, stock, 10)) <= 13


@pytest.mark.django_db
def test_one_update_moves_both_outcomes_and_history_follows(place_order, stock):
    order_ids = _batch(place_order, stock, 6)
    versions = dict(Order.objects.values_list("pk", "version"))

    with CaptureQueriesContext(connection) as captured:
        orders_allocate(order_ids=order_ids, actor=None)

    status_updates = [
        q["sql"]
        for q in captured.captured_queries
        if 'UPDATE "orders_order"' in q["sql"]
    ]
    assert len(status_updates) == 1
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert sorted(statuses[pk] for pk in order_ids) == (
        [OrderStatus.ALLOCATED] * 3 + [OrderStatus.BACKORDERED] * 3
    )
    for pk in order_ids:
        assert Order.objects.get(pk=pk).version == versions[pk] + 1
        latest = Order.objects.get(pk=pk).history.latest()
        assert latest.status == statuses[pk]
        assert latest.pgh_context["reason"] == "allocation"


@pytest.mark.django_db
def test_rules_exist_is_one_query_and_a_new_rule_counts_at_once(place_order, stock):
    with CaptureQueriesContext(connection) as first:
        assert rules_exist(trigger=Rule.Trigger.ALLOCATED) is False
    rule("Hold all", EVERY_ORDER, [("hold", "other", "Check.")], trigger=ALLOCATED)

    assert len(first.captured_queries) == 1
    assert rules_exist(trigger=Rule.Trigger.ALLOCATED) is True
    assert rules_exist(trigger=Rule.Trigger.INTAKE) is False


@pytest.mark.django_db
def test_a_new_allocated_rule_applies_to_the_next_batch(place_order, stock):
    first = _batch(place_order, stock, 2)
    orders_allocate(order_ids=first, actor=None)
    rule("Hold all", EVERY_ORDER, [("hold", "other", "Check.")], trigger=ALLOCATED)
    inactive = rule(
        "Off", EVERY_ORDER, [("hold", "other", "x")], trigger=PACKED, active=False
    )
    assert inactive.active is False
    assert rules_exist(trigger=Rule.Trigger.PACKED) is False

    second = _batch(place_order, stock, 2)
    orders_allocate(order_ids=second, actor=None)

    assert sorted(Order.objects.get(pk=pk).status for pk in first) == [
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
    ]
    assert sorted(Order.objects.get(pk=pk).status for pk in second) == [
        OrderStatus.BACKORDERED,
        OrderStatus.ON_HOLD,
    ]
