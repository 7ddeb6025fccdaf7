"""The engine runs each rule over all the orders at once: the same outcome
as walking the orders through the rules one by one (a later rule sees what
an earlier one did to that order; *stop here* stops that order only), and
the timeline rows it writes in bulk keep every character of the rule's
words."""

from decimal import Decimal

import pytest
from django.db import connection

from orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
    OrderTag,
    OrderTagging,
    Rule,
)
from orders.rules.engine import Facts, LoadedRule, evaluate
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
