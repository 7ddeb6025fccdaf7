"""Each condition of a rule, matched and not matched, on orders in bulk."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import HoldReason, OrderStatus, OrderTag, Rule
from orders.rules.services import rules_apply
from tests import factories
from tests.orders.rules.support import rule

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def make_order(
    *,
    channel="web",
    country="US",
    region="TX",
    postcode="78701",
    total="20.00",
    email=None,
    method="Standard",
    delivery=None,
    qty=1,
    weight=0,
    product_tags="",
    sku=None,
    tags=(),
    held_for_address=False,
    customer=None,
):
    channel_obj = factories.Channel.objects.filter(code=channel).first() or (
        factories.ChannelFactory(code=channel, name=channel.title())
    )
    customer = customer or factories.CustomerFactory(
        **({"email": email} if email else {})
    )
    extra = (
        {
            "status": OrderStatus.ON_HOLD,
            "hold_reason": HoldReason.ADDRESS_CHECK,
            "held_from": OrderStatus.PENDING,
        }
        if held_for_address
        else {}
    )
    order = factories.OrderFactory(
        channel=channel_obj,
        customer=customer,
        ship_country=country,
        ship_region=region,
        ship_postcode=postcode,
        total=Decimal(total),
        shipping_method=method,
        requested_delivery_date=delivery,
        **extra,
    )
    product = factories.ProductFactory(
        weight_g=weight, tags=product_tags, **({"sku": sku} if sku else {})
    )
    factories.OrderLineFactory(order=order, product=product, quantity=qty)
    for name in tags:
        order.tags.add(OrderTag.objects.get_or_create(name=name)[0])
    return order


CASES = [
    ("channel", "is", "web, phone", {"channel": "web"}, {"channel": "amazon"}),
    ("channel", "is_not", "amazon", {"channel": "web"}, {"channel": "amazon"}),
    ("ship_country", "is", "DE, FR", {"country": "DE"}, {"country": "US"}),
    ("ship_country", "is_not", "us", {"country": "CA"}, {"country": "US"}),
    ("ship_region", "is", "tx, ca", {"region": "TX"}, {"region": "NY"}),
    (
        "postcode",
        "starts_with",
        "787, 10",
        {"postcode": "78701"},
        {"postcode": "90210"},
    ),
    (
        "postcode",
        "not_starts_with",
        "sw1",
        {"postcode": "E1 6AN"},
        {"postcode": "SW1A 1AA"},
    ),
    ("total", "gte", "100", {"total": "100.00"}, {"total": "99.99"}),
    ("total", "lt", "10.50", {"total": "10.49"}, {"total": "10.50"}),
    ("item_count", "gt", "3", {"qty": 4}, {"qty": 3}),
    ("item_count", "eq", "2", {"qty": 2}, {"qty": 3}),
    ("weight", "gte", "1000", {"qty": 2, "weight": 500}, {"qty": 1, "weight": 999}),
    ("sku", "contains", "glass-1, glass-2", {"sku": "GLASS-2"}, {"sku": "MUG-1"}),
    ("sku", "not_contains", "glass-1", {"sku": "MUG-1"}, {"sku": "GLASS-1"}),
    (
        "product_tag",
        "contains",
        "hazmat",
        {"product_tags": "Heavy, Hazmat"},
        {"product_tags": "heavy"},
    ),
    ("email", "is", "vip@shop.com", {"email": "VIP@shop.com"}, {"email": "x@shop.com"}),
    (
        "email_domain",
        "is",
        "@corp.com",
        {"email": "a@corp.com"},
        {"email": "a@home.com"},
    ),
    ("shipping_method", "is", "express", {"method": "Express"}, {"method": "Standard"}),
    (
        "delivery_within",
        "lte",
        "2",
        {"delivery": TODAY + timedelta(days=2)},
        {"delivery": TODAY + timedelta(days=3)},
    ),
    (
        "delivery_within",
        "gt",
        "2",
        {"delivery": TODAY + timedelta(days=5)},
        {"delivery": TODAY + timedelta(days=1)},
    ),
    ("address_failed", "yes", "", {"held_for_address": True}, {}),
    ("address_failed", "no", "", {}, {"held_for_address": True}),
    ("order_tag", "contains", "vip", {"tags": ["vip"]}, {"tags": ["gift"]}),
    ("order_tag", "not_contains", "vip", {"tags": []}, {"tags": ["vip"]}),
]


@pytest.mark.parametrize(("field", "operator", "value", "hit", "miss"), CASES)
def test_condition_matches_only_its_orders(field, operator, value, hit, miss):
    matching = make_order(**hit)
    other = make_order(**miss)
    rule("Tag them", [(field, operator, value)], [("add_tag", "hit")])

    outcome = rules_apply(
        order_ids=[matching.pk, other.pk], trigger=Rule.Trigger.INTAKE, actor=None
    )

    assert [a.order_id for a in outcome.applied] == [matching.pk]
    assert "hit" in set(matching.tags.values_list("name", flat=True))
    assert "hit" not in set(other.tags.values_list("name", flat=True))


def test_delivery_within_ignores_orders_without_a_date():
    order = make_order(delivery=None)
    rule("Soon", [("delivery_within", "lte", "30")], [("add_tag", "soon")])

    outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    assert outcome.applied == []


def test_first_order_of_the_customer():
    customer = factories.CustomerFactory()
    first = make_order(customer=customer)
    second = make_order(customer=customer)
    rule("Welcome", [("first_order", "yes", "")], [("add_tag", "first")])
    rule("Regular", [("first_order", "no", "")], [("add_tag", "returning")])

    rules_apply(order_ids=[first.pk, second.pk], trigger="intake", actor=None)

    assert list(first.tags.values_list("name", flat=True)) == ["first"]
    assert list(second.tags.values_list("name", flat=True)) == ["returning"]


def test_match_any_versus_all():
    order = make_order(country="DE", total="10.00")
    rule(
        "Any",
        [("ship_country", "is", "DE"), ("total", "gte", "500")],
        [("add_tag", "any")],
        match=Rule.Match.ANY,
    )
    rule(
        "All",
        [("ship_country", "is", "DE"), ("total", "gte", "500")],
        [("add_tag", "all")],
    )

    rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    assert list(order.tags.values_list("name", flat=True)) == ["any"]


def test_facts_are_read_in_a_few_queries_whatever_the_number_of_orders(
    django_assert_max_num_queries,
):
    orders = [make_order(qty=n % 3 + 1, product_tags="fragile") for n in range(30)]
    rule(
        "Everything",
        [
            ("weight", "gte", "0"),
            ("product_tag", "contains", "fragile"),
            ("first_order", "yes", ""),
            ("order_tag", "not_contains", "x"),
        ],
        [("add_tag", "seen"), ("priority", "high")],
    )

    with django_assert_max_num_queries(20):
        outcome = rules_apply(
            order_ids=[o.pk for o in orders], trigger="intake", actor=None
        )

    assert len(outcome.applied) == 30
