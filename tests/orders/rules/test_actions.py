"""Each action, rule order and *stop here*, the timeline, and the hooks at
allocation and packing."""

import pytest
from django.core import mail

from connections.models import OutboundMessage
from inventory.models import Allocation
from orders.models import HoldReason, Order, OrderEvent, OrderStatus, Rule
from orders.rules.services import rules_apply
from orders.services.lifecycle import order_pack, order_start_picking
from tests import factories
from tests.orders.rules.support import rule

pytestmark = pytest.mark.django_db


def rule_events(order):
    return list(
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE)
        .order_by("pk")
        .values_list("message", flat=True)
    )


def test_hold_with_reason_and_note_on_the_timeline(place_order, product, stock):
    stock(product, 10)
    rule(
        "High value, first order",
        [("total", "gte", "20"), ("first_order", "yes", "")],
        [("hold", "fraud review", "Call the customer first.")],
    )

    order = place_order([(product, 3)])

    assert order.status == OrderStatus.ON_HOLD
    assert order.hold_reason == HoldReason.FRAUD_REVIEW
    assert order.held_from == OrderStatus.PENDING
    # Held before allocation: nothing reserved.
    assert not Allocation.objects.filter(order_line__order=order).exists()
    assert rule_events(order) == [
        "Held (Fraud review: Call the customer first.) by rule "
        "'High value, first order'."
    ]


def test_priority_shipping_method_and_tag(place_order, product, stock):
    stock(product, 10)
    rule(
        "Rush",
        [("item_count", "gte", "2")],
        [
            ("priority", "urgent"),
            ("shipping_method", "Express"),
            ("add_tag", "Rush"),
        ],
    )

    order = place_order([(product, 2)])

    assert order.priority == Order.Priority.URGENT
    assert order.shipping_method == "Express"
    assert list(order.tags.values_list("name", flat=True)) == ["rush"]
    assert order.status == OrderStatus.ALLOCATED
    assert rule_events(order) == [
        "Priority set to Urgent, shipping method set to Express and tagged 'rush' "
        "by rule 'Rush'."
    ]
    assert order.history.filter(pgh_context__reason="rule").exists()


def test_pin_and_exclude_route_the_allocation(place_order, product, stock, location):
    other = factories.LocationFactory(code="NYC", priority=50)
    third = factories.LocationFactory(code="LAX", priority=60)
    stock(product, 10)  # at RNO, the best priority
    stock(product, 10, at=other)
    stock(product, 10, at=third)
    rule("From NYC", [("ship_country", "is", "US")], [("pin_location", "", other)])
    rule("Not RNO", [("total", "gte", "0")], [("exclude_location", "", location)])

    pinned = place_order([(product, 2)])

    assert pinned.routing_pin_id == other.pk
    assert pinned.routing_exclude == [location.pk]
    assert set(
        Allocation.objects.filter(order_line__order=pinned).values_list(
            "stock_level__location__code", flat=True
        )
    ) == {"NYC"}

    Rule.objects.filter(name="From NYC").update(active=False)
    excluded = place_order([(product, 2)])

    # RNO ranks first but is excluded: the next location ships it.
    assert excluded.routing_pin_id is None
    assert set(
        Allocation.objects.filter(order_line__order=excluded).values_list(
            "stock_level__location__code", flat=True
        )
    ) == {"NYC"}


def test_email_is_queued_after_commit_one_per_rule_and_address(
    django_capture_on_commit_callbacks,
):
    orders = [factories.OrderFactory(total="300.00") for _ in range(3)]
    rule(
        "Big orders",
        [("total", "gte", "250")],
        [("email", "ops@shop.example", "Check these big orders.")],
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rules_apply(order_ids=[o.pk for o in orders], trigger="intake", actor=None)
        assert mail.outbox == []  # nothing is sent inside the transaction

    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@shop.example"]
    assert message.subject == "Rule 'Big orders': 3 orders"
    assert "Check these big orders." in message.body
    assert all(order.number in message.body for order in orders)
    # A message of the one outbox, to the staff (no channel, no order).
    sent = OutboundMessage.objects.get(kind="email.rule_matched")
    assert (sent.platform, sent.status, sent.to) == (
        "email",
        "sent",
        "ops@shop.example",
    )
    assert sent.channel_id is None and sent.order_id is None


def test_rules_run_in_order_and_stop_here_stops_the_later_ones():
    order = factories.OrderFactory(total="80.00")
    rule("Second", [], [("add_tag", "second")], position=20)
    rule("First", [], [("add_tag", "first")], position=10, stop_here=True)
    rule("Third", [], [("add_tag", "third")], position=30)

    outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    assert outcome.rules_of(order.pk) == ["First"]
    assert list(order.tags.values_list("name", flat=True)) == ["first"]


def test_later_rule_sees_what_an_earlier_rule_did():
    order = factories.OrderFactory()
    rule("Tag", [], [("add_tag", "vip")], position=1)
    rule(
        "Then rush",
        [("order_tag", "contains", "vip")],
        [("priority", "high")],
        position=2,
    )
    rule("Not stopped", [], [("add_tag", "seen")], position=3)

    outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    order.refresh_from_db()
    assert outcome.rules_of(order.pk) == ["Tag", "Then rush", "Not stopped"]
    assert order.priority == Order.Priority.HIGH


def test_an_order_already_on_hold_is_not_held_twice():
    order = factories.OrderFactory(
        status=OrderStatus.ON_HOLD,
        hold_reason=HoldReason.ADDRESS_CHECK,
        held_from=OrderStatus.PENDING,
    )
    rule("Hold", [("address_failed", "yes", "")], [("hold", "fraud_review")])

    rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    order.refresh_from_db()
    assert order.hold_reason == HoldReason.ADDRESS_CHECK
    assert rule_events(order) == [
        "Not held again (already on hold: Address check) by rule 'Hold'."
    ]


def test_inactive_rules_and_other_triggers_do_not_run():
    order = factories.OrderFactory()
    rule("Off", [], [("add_tag", "off")], active=False)
    rule("Later", [], [("add_tag", "later")], trigger=Rule.Trigger.PACKED)

    outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    assert outcome.applied == []
    assert not order.tags.exists()


def test_when_allocated_rule_runs_after_allocation_and_may_hold(
    place_order, product, stock
):
    stock(product, 10)
    rule(
        "Check big allocations",
        [("item_count", "gte", "5")],
        [("hold", "other", "Split by hand.")],
        trigger=Rule.Trigger.ALLOCATED,
    )

    small = place_order([(product, 1)])
    big = place_order([(product, 5)])

    assert small.status == OrderStatus.ALLOCATED
    assert big.status == OrderStatus.ON_HOLD
    assert big.held_from == OrderStatus.ALLOCATED
    # Holding keeps the reservation, as a person's hold does.
    assert Allocation.objects.filter(order_line__order=big).exists()
    assert rule_events(big) == [
        "Held (Other: Split by hand.) by rule 'Check big allocations'."
    ]


def test_when_packed_rule_runs_at_packing(place_order, product, stock, user):
    stock(product, 10)
    rule(
        "Packed heavy",
        [("item_count", "gte", "1")],
        [("shipping_method", "Freight"), ("hold", "other")],
        trigger=Rule.Trigger.PACKED,
    )
    order = place_order([(product, 1)])
    order = order_start_picking(order=order, actor=user)

    order = order_pack(order=order, actor=user)

    assert order.status == OrderStatus.PACKED
    assert order.shipping_method == "Freight"
    assert rule_events(order) == [
        "Shipping method set to Freight and not held (Packed orders cannot be held) "
        "by rule 'Packed heavy'."
    ]
