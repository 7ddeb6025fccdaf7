"""Intake rules on a CSV import: applied in bulk to the new orders (on
PostgreSQL before their rows are written, so each row goes in once, as the
rules left it), with the same outcome as for an order stored first."""

import pytest

from orders.importing.services import orders_import
from orders.models import HoldReason, Order, OrderEvent, OrderStatus
from tests import factories
from tests.orders.rules.support import rule

pytestmark = pytest.mark.django_db

HEADER = (
    "order_ref,placed_at,customer_email,customer_name,ship_name,ship_address1,"
    "ship_city,ship_region,ship_postcode,ship_country,shipping_method,currency,sku,"
    "quantity,unit_price,shipping_amount,tax_amount\n"
)


def row(ref: str, email: str, quantity: int, price: str, hour: int = 10) -> str:
    return (
        f"{ref},2026-11-20 {hour:02d}:00,{email},Cy Esv,Cy Esv,1 Main St,Austin,TX,"
        f"78701,US,Standard,USD,TSH-BLK-M,{quantity},{price},4.95,0.00\n"
    )


@pytest.fixture
def rules(db, product):
    overflow = factories.LocationFactory(code="OVF", priority=50)
    rule(
        "First big order",
        [("first_order", "yes", ""), ("total", "gte", "100")],
        [("hold", "fraud_review", "Call first.")],
        position=1,
    )
    rule(
        "Bulk",
        [("item_count", "gte", "5")],
        [("priority", "urgent"), ("add_tag", "bulk"), ("shipping_method", "Freight")],
        position=2,
    )
    rule("Never overflow", [], [("exclude_location", "", overflow)], position=3)
    return overflow


def import_file(text: str, channel, user):
    result = orders_import(
        data=(HEADER + text).encode(), actor=user, channel=channel, filename="f.csv"
    )
    assert result.written, result.problems
    return {order.external_id: order for order in Order.objects.all()}


def rule_messages(order: Order) -> list[str]:
    return list(
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE)
        .order_by("pk")
        .values_list("message", flat=True)
    )


def test_rules_change_the_new_orders_fields(rules, channel, user):
    orders = import_file(
        row("A-1", "new@example.com", 10, "20.00")
        + row("B-1", "other@example.com", 1, "5.00"),
        channel,
        user,
    )

    held, small = orders["A-1"], orders["B-1"]
    assert (held.status, held.hold_reason, held.held_from) == (
        OrderStatus.ON_HOLD,
        HoldReason.FRAUD_REVIEW,
        OrderStatus.PENDING,
    )
    assert held.priority == Order.Priority.URGENT
    assert held.shipping_method == "Freight"
    assert sorted(held.tags.values_list("name", flat=True)) == ["bulk"]
    assert (small.status, small.priority, small.shipping_method) == (
        OrderStatus.PENDING,
        0,
        "Standard",
    )
    assert not small.tags.exists()
    assert held.routing_exclude == small.routing_exclude == [rules.pk]


def test_each_applied_rule_is_on_the_timeline(rules, channel, user):
    orders = import_file(row("A-1", "new@example.com", 10, "20.00"), channel, user)

    messages = rule_messages(orders["A-1"])

    assert len(messages) == 3
    assert messages[0].endswith("by rule 'First big order'.")
    assert messages[1].endswith("by rule 'Bulk'.")
    assert messages[2].endswith("by rule 'Never overflow'.")
    # The import's own entry stays first on the timeline.
    assert OrderEvent.objects.filter(order=orders["A-1"]).last().kind == (
        OrderEvent.Kind.IMPORTED
    )


def test_orders_ruled_alike_each_get_their_own_entry(rules, channel, user):
    # Two customers' first big orders and a returning customer's second one:
    # the same rules do the same to the first two, something else to the third.
    orders = import_file(
        row("A-1", "one@example.com", 10, "20.00")
        + row("A-2", "two@example.com", 10, "20.00")
        + row("A-3", "one@example.com", 10, "20.00", hour=11),
        channel,
        user,
    )

    def entries(order):
        return [
            (event.message, event.data, event.user_id)
            for event in OrderEvent.objects.filter(
                order=order, kind=OrderEvent.Kind.RULE
            ).order_by("pk")
        ]

    first, second, third = (entries(orders[ref]) for ref in ("A-1", "A-2", "A-3"))
    assert first == second
    assert [data["rule_name"] for _, data, _ in first] == [
        "First big order",
        "Bulk",
        "Never overflow",
    ]
    hold = first[0][1]["actions"][0]
    assert hold["action"] == "hold" and hold["reason"] == "fraud_review"
    assert hold["from"] == OrderStatus.PENDING
    assert {user_id for _, _, user_id in first} == {user.pk}
    # The returning customer's order is no first order: no hold entry.
    assert [data["rule_name"] for _, data, _ in third] == ["Bulk", "Never overflow"]
    assert third == first[1:]


def test_only_the_customers_first_order_in_the_file_is_first(rules, channel, user):
    orders = import_file(
        row("A-1", "twice@example.com", 1, "150.00", hour=9)
        + row("A-2", "twice@example.com", 1, "150.00", hour=11),
        channel,
        user,
    )

    assert orders["A-1"].status == OrderStatus.ON_HOLD
    assert orders["A-2"].status == OrderStatus.PENDING


def test_a_returning_customer_is_not_on_a_first_order(rules, channel, user):
    before = import_file(row("OLD-1", "back@example.com", 1, "5.00"), channel, user)

    orders = import_file(row("A-1", "back@example.com", 1, "150.00"), channel, user)

    assert before["OLD-1"].status == OrderStatus.PENDING
    assert orders["A-1"].status == OrderStatus.PENDING


def test_the_field_history_ends_with_what_the_rules_set(rules, channel, user):
    orders = import_file(row("A-1", "new@example.com", 10, "20.00"), channel, user)

    latest = orders["A-1"].history.order_by("-pgh_id").first()

    assert (latest.status, latest.priority, latest.shipping_method) == (
        OrderStatus.ON_HOLD,
        Order.Priority.URGENT,
        "Freight",
    )


def test_each_ruled_order_is_written_once(rules, channel, user):
    orders = import_file(row("A-1", "new@example.com", 10, "20.00"), channel, user)

    order = orders["A-1"]

    # Inserted as the rules left it: never updated, one history record.
    assert order.priority == Order.Priority.URGENT
    assert order.version == 0
    assert list(order.history.values_list("pgh_label", flat=True)) == ["insert"]
