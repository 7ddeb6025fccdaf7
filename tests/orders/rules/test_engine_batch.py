"""The engine runs each rule over all the orders at once: the same outcome
as walking the orders through the rules one by one (a later rule sees what
an earlier one did to that order; *stop here* stops that order only), and
the timeline rows it writes in bulk keep every character of the rule's
words."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
    OrderTag,
    OrderTagging,
    Rule,
)
from orders.rules.engine import evaluate, rule_matches
from orders.rules.load import Facts, LoadedRule
from orders.rules.schema import action_parse, condition_parse
from orders.rules.services import rules_apply
from tests.orders.rules.support import rule


def loaded(pk, conditions, actions, *, stop_here=False, match_all=True):
    return LoadedRule(
        pk=pk,
        name=f"Rule {pk}",
        match_all=match_all,
        stop_here=stop_here,
        conditions=tuple(
            condition_parse(field=f, operator=o, value=v) for f, o, v in conditions
        ),
        actions=tuple(action_parse(kind=k, value=v) for k, v in actions),
    )


def fact(pk, *, total, email="a@example.com", status=OrderStatus.PENDING):
    return Facts(
        pk=pk,
        number=f"N{pk}",
        status=status,
        hold_reason="",
        channel="web",
        country="US",
        region="tx",
        postcode="78701",
        total=Decimal(total),
        email=email,
        shipping_method="standard",
        delivery_date=None,
        priority=0,
        routing_pin=None,
        routing_exclude=(),
    )


RULES = [
    loaded(
        1, [("email", "is", "vip@example.com")], [("add_tag", "vip")], stop_here=True
    ),
    loaded(2, [("total", "gte", "300")], [("add_tag", "big")]),
    loaded(3, [("order_tag", "contains", "big")], [("priority", "high")]),
    loaded(4, [("total", "gte", "300")], [("priority", "high")]),
    loaded(5, [("total", "gte", "1000")], [("hold", "fraud_review")]),
    loaded(6, [("total", "gte", "1000")], [("hold", "fraud_review")]),
]


def orders():
    return [
        fact(1, total="500"),
        fact(2, total="50"),
        fact(3, total="5000", email="vip@example.com"),
        fact(4, total="5000"),
        fact(5, total="400", status=OrderStatus.SHIPPED),
    ]


def outcome(applied):
    return sorted((a.order_id, a.rule.pk, a.done, a.data) for a in applied)


def test_all_at_once_is_the_same_as_one_order_at_a_time():
    together = orders()
    alone = orders()

    applied = evaluate(rules=RULES, facts=together)

    one_by_one = [a for f in alone for a in evaluate(rules=RULES, facts=[f])]
    assert outcome(applied) == outcome(one_by_one)
    assert [(f.tags, f.priority, f.status) for f in together] == [
        (f.tags, f.priority, f.status) for f in alone
    ]


def test_a_later_rule_sees_an_earlier_one_and_stop_here_stops_that_order_only():
    facts = orders()

    applied = evaluate(rules=RULES, facts=facts)

    rules_of = {f.pk: [a.rule.pk for a in applied if a.order_id == f.pk] for f in facts}
    assert rules_of == {
        1: [2, 3, 4],  # rule 3 sees the tag rule 2 added
        2: [],
        3: [1],  # stopped by rule 1, alone of the orders
        4: [2, 3, 4, 5, 6],
        5: [2, 3, 4],
    }
    done = {(a.order_id, a.rule.pk): a.done for a in applied}
    assert done[1, 4] == []  # already high: matched, nothing to change
    assert done[4, 6] == ["not held again (already on hold: Fraud review)"]


@pytest.mark.django_db
def test_timeline_and_tags_written_in_bulk_keep_every_character(
    place_order, product, stock
):
    stock(product, 10)
    name = 'Café ☕ Tab\there, back\\slash, "quoted" and\nnew line'
    rule(name, [], [("add_tag", "a\\b\tc"), ("priority", "high")])
    order = place_order([(product, 1)], allocate=False)

    [event] = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE)

    rule_pk = Rule.objects.get(name=name).pk
    assert event.message == (
        f"Tagged 'a\\b\tc' and priority set to High by rule '{name}'."
    )
    assert event.data == {
        "rule": rule_pk,
        "rule_name": name,
        "actions": [
            {"action": "add_tag", "tag": "a\\b\tc"},
            {"action": "priority", "priority": Order.Priority.HIGH},
        ],
    }
    assert list(order.tags.values_list("name", flat=True)) == ["a\\b\tc"]
    # Applied again: the tag is there already, nothing is written twice.
    rules_apply(order_ids=[order.pk], trigger=Rule.Trigger.INTAKE, actor=None)
    assert OrderTagging.objects.filter(order=order).count() == 1
    assert OrderTag.objects.count() == 1


@pytest.mark.django_db
def test_order_tags_table_has_no_index_on_the_order_alone():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, OrderTagging._meta.db_table
        )
    indexed = {
        tuple(c["columns"]): c["unique"]
        for c in constraints.values()
        if c["index"] or c["unique"]
    }
    # The unique (order, tag) index serves lookups by order; tag has its own.
    assert indexed.get(("order_id", "ordertag_id")) is True
    assert indexed.get(("ordertag_id",)) is False
    assert ("order_id",) not in indexed


@pytest.mark.django_db
def test_timeline_and_tags_go_with_their_order_and_tag():
    """The timeline and tag rows have no database foreign key (they are
    written in bulk); Django's cascade still removes them with their order or
    their tag, so none is left pointing nowhere."""
    from tests.factories import OrderFactory

    kept, deleted = OrderFactory(), OrderFactory()
    vip, gone = OrderTag.objects.create(name="vip"), OrderTag.objects.create(name="x")
    for order in (kept, deleted):
        order.tags.add(vip, gone)
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.RULE, message="m")

    deleted.delete()
    gone.delete()

    assert set(OrderTagging.objects.values_list("order_id", "ordertag_id")) == {
        (kept.pk, vip.pk)
    }
    assert set(OrderEvent.objects.values_list("order_id", flat=True)) == {kept.pk}


TODAY = timezone.localdate()

# Every field and operator, and rules of several conditions (all or any), run
# by `evaluate` over all the orders at once, against `rule_matches` per order.
EVERY_CONDITION = [
    ("channel", "is", "web, phone"),
    ("channel", "is_not", "web"),
    ("ship_country", "is", "US"),
    ("ship_country", "is_not", "us"),
    ("ship_region", "is", "tx"),
    ("ship_region", "is_not", "tx"),
    ("postcode", "starts_with", "787, 10"),
    ("postcode", "not_starts_with", "787"),
    ("postcode", "is", "78701"),
    ("postcode", "is_not", "78701"),
    ("total", "gte", "300"),
    ("total", "gt", "500"),
    ("total", "lte", "400"),
    ("total", "lt", "50"),
    ("total", "eq", "5000"),
    ("item_count", "gte", "2"),
    ("item_count", "eq", "1"),
    ("weight", "gt", "100"),
    ("sku", "contains", "a-1, b-2"),
    ("sku", "not_contains", "a-1"),
    ("product_tag", "contains", "fragile"),
    ("product_tag", "not_contains", "fragile"),
    ("order_tag", "contains", "vip"),
    ("order_tag", "not_contains", "vip"),
    ("email", "is", "vip@example.com"),
    ("email", "is_not", "vip@example.com"),
    ("email", "starts_with", "vip"),
    ("email", "not_starts_with", "vip"),
    ("email_domain", "is", "example.com"),
    ("email_domain", "is_not", "example.com"),
    ("shipping_method", "is", "standard"),
    ("shipping_method", "is_not", "standard"),
    ("shipping_method", "starts_with", "stand"),
    ("shipping_method", "not_starts_with", "stand"),
    ("first_order", "yes", ""),
    ("first_order", "no", ""),
    ("address_failed", "yes", ""),
    ("address_failed", "no", ""),
    ("delivery_within", "lte", "2"),
    ("delivery_within", "gt", "2"),
]


def varied_facts():
    facts = orders()
    for n, f in enumerate(facts):
        f.items, f.weight = n, 60 * n
        f.skus = frozenset({"a-1"} if n % 2 else {"b-2", "c-3"} if n else set())
        f.product_tags = frozenset({"fragile"} if n % 3 == 0 else ())
        f.tags = {"vip"} if n in (1, 4) else set()
        f.first_order = n % 2 == 0
        f.channel = "web" if n % 2 else "phone"
        f.postcode = "10001" if n == 2 else f.postcode
        f.delivery_date = TODAY + timedelta(days=n) if n else None
    facts[3].status, facts[3].hold_reason = OrderStatus.ON_HOLD, "address_check"
    return facts


@pytest.mark.parametrize("condition", EVERY_CONDITION)
def test_each_condition_over_all_orders_matches_as_on_each_order_alone(condition):
    rule = loaded(1, [condition], [])
    facts = varied_facts()

    applied = evaluate(rules=[rule], facts=facts, today=TODAY)

    expected = [f.pk for f in varied_facts() if rule_matches(rule, f, TODAY)]
    assert [a.order_id for a in applied] == expected


@pytest.mark.parametrize("match_all", [True, False])
@pytest.mark.parametrize(
    "conditions",
    [
        [("total", "gte", "300"), ("first_order", "yes", "")],
        [("first_order", "no", ""), ("sku", "not_contains", "a-1")],
        [
            ("channel", "is", "web"),
            ("total", "gte", "100"),
            ("order_tag", "contains", "vip"),
        ],
        [("email", "is", "vip@example.com"), ("delivery_within", "lte", "2")],
    ],
)
def test_rules_of_several_conditions_over_all_orders_match_as_alone(
    conditions, match_all
):
    rule = loaded(1, conditions, [], match_all=match_all)
    facts = varied_facts()

    applied = evaluate(rules=[rule], facts=facts, today=TODAY)

    expected = [f.pk for f in varied_facts() if rule_matches(rule, f, TODAY)]
    assert [a.order_id for a in applied] == expected
