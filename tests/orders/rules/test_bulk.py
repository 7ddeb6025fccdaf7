"""The bulk path: lines handed over by the caller (the import) give the same
facts as reading them, without reading them; rules of three or more
conditions match as "all" or "any" says."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderLine, Rule
from orders.rules.load import facts_load, rules_load
from orders.rules.services import rules_apply
from tests.orders.rules.support import rule
from tests.orders.rules.test_conditions import make_order

pytestmark = pytest.mark.django_db

LINE_RULES = [
    ("item_count", "gte", "2"),
    ("weight", "gte", "100"),
    ("sku", "contains", "mug-1"),
    ("product_tag", "contains", "fragile"),
]


def _line_facts(facts):
    return {f.pk: (f.items, f.weight, f.skus, f.product_tags) for f in facts}


def _known(orders):
    return {
        order.pk: [
            (line.product_id, line.sku, line.quantity)
            for line in OrderLine.objects.filter(order=order)
        ]
        for order in orders
    }


def test_known_lines_give_the_same_facts_without_reading_lines():
    rule("Lines", LINE_RULES, [("add_tag", "x")], match=Rule.Match.ANY)
    orders = [
        make_order(qty=3, weight=50, sku="MUG-1", product_tags="Fragile, Glass"),
        make_order(qty=1, weight=500, sku="TEE-2"),
        make_order(qty=2, weight=0, sku="CAP-3", product_tags="soft"),
    ]
    ids = [order.pk for order in orders]
    rules = rules_load(trigger=Rule.Trigger.INTAKE)
    read = _line_facts(facts_load(order_ids=ids, rules=rules))
    assert read[orders[0].pk] == (3, 150, {"mug-1"}, {"fragile", "glass"})

    table = OrderLine._meta.db_table
    lines = _known(orders)
    with CaptureQueriesContext(connection) as queries:
        known = facts_load(order_ids=ids, rules=rules, lines=lines)
    assert _line_facts(known) == read
    assert not [q for q in queries.captured_queries if table in q["sql"]]

    # An order the caller does not know the lines of has them read.
    partial = _known(orders[:2])
    with CaptureQueriesContext(connection) as queries:
        mixed = facts_load(order_ids=ids, rules=rules, lines=partial)
    assert _line_facts(mixed) == read
    assert [q for q in queries.captured_queries if table in q["sql"]]


def test_rules_apply_with_known_lines_does_what_reading_them_does():
    rule("Mugs", [("sku", "contains", "mug-1")], [("add_tag", "mugs")])
    mug = make_order(sku="MUG-1")
    tee = make_order(sku="TEE-2")
    outcome = rules_apply(
        order_ids=[mug.pk, tee.pk],
        trigger=Rule.Trigger.INTAKE,
        actor=None,
        lines=_known([mug, tee]),
    )
    assert [a.order_id for a in outcome.applied] == [mug.pk]
    assert list(mug.tags.values_list("name", flat=True)) == ["mugs"]
    assert not tee.tags.exists()


@pytest.mark.parametrize(
    ("match", "conditions", "matches"),
    [
        # Three conditions: only the last holds.
        (
            Rule.Match.ANY,
            [
                ("ship_country", "is", "DE"),
                ("total", "gte", "500"),
                ("sku", "contains", "mug-1"),
            ],
            True,
        ),
        (
            Rule.Match.ALL,
            [
                ("ship_country", "is", "DE"),
                ("total", "gte", "500"),
                ("sku", "contains", "mug-1"),
            ],
            False,
        ),
        # Three conditions: all hold.
        (
            Rule.Match.ALL,
            [
                ("ship_country", "is", "US"),
                ("total", "lt", "500"),
                ("sku", "contains", "mug-1"),
            ],
            True,
        ),
        # Three conditions: none holds.
        (
            Rule.Match.ANY,
            [
                ("ship_country", "is", "DE"),
                ("total", "gte", "500"),
                ("sku", "contains", "x"),
            ],
            False,
        ),
    ],
)
def test_many_conditions_match_all_or_any(match, conditions, matches):
    rule("Three", conditions, [("priority", "high")], match=match)
    order = make_order(country="US", total="20.00", sku="MUG-1")
    outcome = rules_apply(order_ids=[order.pk], trigger=Rule.Trigger.INTAKE, actor=None)
    order.refresh_from_db()
    assert bool(outcome.applied) is matches
    assert (order.priority == 1) is matches
