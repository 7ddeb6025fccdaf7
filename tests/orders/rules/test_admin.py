"""Orders › Rules in the admin: clear validation messages, the *try it* page
(which changes nothing), the tag filter of the order list, and the role."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from orders.models import HoldReason, Order, OrderEvent, OrderStatus, OrderTag, Rule
from orders.rules.preview import rule_preview
from tests import factories
from tests.orders.rules.support import rule

pytestmark = pytest.mark.django_db


def form_data(conditions=(), actions=(), **fields):
    data = {
        "name": "High value, first order",
        "position": "10",
        "active": "on",
        "trigger": "intake",
        "match": "all",
        "conditions-TOTAL_FORMS": str(len(conditions)),
        "conditions-INITIAL_FORMS": "0",
        "actions-TOTAL_FORMS": str(len(actions)),
        "actions-INITIAL_FORMS": "0",
        **fields,
    }
    for n, (field, operator, value) in enumerate(conditions):
        data |= {
            f"conditions-{n}-field": field,
            f"conditions-{n}-operator": operator,
            f"conditions-{n}-value": value,
        }
    for n, (kind, value, note) in enumerate(actions):
        data |= {
            f"actions-{n}-kind": kind,
            f"actions-{n}-value": value,
            f"actions-{n}-note": note,
        }
    return data


def test_manager_writes_a_rule(admin_client, superuser):
    response = admin_client.post(
        reverse("admin:orders_rule_add"),
        form_data(
            [("total", "gte", "250"), ("first_order", "yes", "")],
            [("hold", "Fraud review", "Check ID"), ("add_tag", "big", "")],
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    made = Rule.objects.get()
    assert made.created_by == superuser
    assert [(c.field, c.operator, c.value) for c in made.conditions.all()] == [
        ("total", "gte", "250"),
        ("first_order", "yes", ""),
    ]
    assert [(a.kind, a.value) for a in made.actions.all()] == [
        ("hold", "Fraud review"),
        ("add_tag", "big"),
    ]


@pytest.mark.parametrize(
    ("condition", "action", "message"),
    [
        (("total", "gte", "a lot"), None, "compares with an amount such as 250"),
        (("total", "contains", "5"), None, "takes one of these operators"),
        (("ship_country", "is", "USA"), None, "USA is not a country code"),
        (("channel", "is", "nope"), None, "No channel has the code nope"),
        (("first_order", "yes", "maybe"), None, "is yes or no: leave the value empty"),
        (("item_count", "gte", ""), None, "needs a value"),
        (None, ("hold", "because", ""), "A hold needs a reason in the value"),
        (None, ("priority", "asap", ""), "Normal, High or Urgent"),
        (None, ("email", "not-an-address", ""), "needs an e-mail address"),
        (None, ("pin_location", "", ""), "needs a location"),
        (None, ("add_tag", "a,b", ""), "needs one tag"),
    ],
)
def test_bad_conditions_and_actions_get_a_clear_message(
    admin_client, condition, action, message
):
    response = admin_client.post(
        reverse("admin:orders_rule_add"),
        form_data([condition] if condition else [], [action] if action else []),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Rule.objects.exists()


def test_try_it_shows_the_last_30_days_and_changes_nothing(
    admin_client, django_assert_max_num_queries
):
    now = timezone.now()
    recent = [factories.OrderFactory(total="300.00", placed_at=now) for _ in range(5)]
    factories.OrderFactory(total="10.00", placed_at=now)
    old = factories.OrderFactory(total="300.00", placed_at=now - timedelta(days=40))
    tried = rule(
        "Big",
        [("total", "gte", "250")],
        [("hold", "fraud_review", ""), ("add_tag", "big"), ("priority", "urgent")],
        active=False,
    )
    before = list(Order.objects.order_by("pk").values())
    events = OrderEvent.objects.count()

    url = reverse("admin:orders_rule_try", args=[tried.pk])
    with django_assert_max_num_queries(20):
        response = admin_client.get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert all(order.number in page for order in recent)
    assert old.number not in page
    assert "Held (Fraud review)" in page
    assert response.context["preview"].matched == 5
    assert response.context["preview"].looked_at == 6
    # Nothing changed.
    assert list(Order.objects.order_by("pk").values()) == before
    assert OrderEvent.objects.count() == events
    assert not OrderTag.objects.exists()


def test_preview_query_count_does_not_grow_with_orders(django_assert_num_queries):
    tried = rule("Any", [("item_count", "gte", "0")], [("add_tag", "x")])
    for _ in range(3):
        factories.OrderLineFactory()
    with CaptureQueriesContext(connection) as few:
        rule_preview(rule=tried)
    assert len(few.captured_queries) <= 10
    for _ in range(30):
        factories.OrderLineFactory()
    with django_assert_num_queries(len(few.captured_queries)):
        preview = rule_preview(rule=tried)
    assert preview.matched == 33


def test_rule_list_and_order_list_tag_filter(admin_client):
    tagged = factories.OrderFactory()
    plain = factories.OrderFactory()
    vip = OrderTag.objects.create(name="vip")
    tagged.tags.add(vip)
    rule("Some rule", [], [("add_tag", "x")])

    assert admin_client.get(reverse("admin:orders_rule_changelist")).status_code == 200
    response = admin_client.get(
        reverse("admin:orders_order_changelist"), {"tag": vip.pk}
    )

    assert response.status_code == 200
    shown = {order.pk for order in response.context["cl"].result_list}
    assert shown == {tagged.pk}
    assert plain.pk not in shown


@pytest.mark.parametrize(
    ("role", "allowed"), [("Manager", True), ("Customer service", False)]
)
def test_only_managers_write_rules(client, role, allowed):
    from oms.roles import roles_setup

    groups = roles_setup()
    person = factories.UserFactory(username=f"r-{allowed}", is_staff=True)
    person.groups.add(groups[role])
    client.force_login(person)

    response = client.post(
        reverse("admin:orders_rule_add"),
        form_data([("total", "gte", "250")], [("add_tag", "big", "")]),
    )

    assert response.status_code == (302 if allowed else 403)
    assert Rule.objects.exists() == allowed


def test_rule_page_has_a_try_button(admin_client):
    tried = rule("Big", [("total", "gte", "250")], [("add_tag", "big")])

    page = admin_client.get(
        reverse("admin:orders_rule_change", args=[tried.pk])
    ).content.decode()

    try_url = reverse("admin:orders_rule_try", args=[tried.pk])
    assert f'href="{try_url}" id="rule-try"' in page
    assert "Try on the last 30 days" in page


def test_try_writes_dates_as_the_admin_does(admin_client):
    placed = timezone.now().replace(second=0, microsecond=0) - timedelta(days=1)
    order = factories.OrderFactory(total="300.00", placed_at=placed)
    tried = rule("Big", [("total", "gte", "250")], [("add_tag", "big")])

    page = admin_client.get(
        reverse("admin:orders_rule_try", args=[tried.pk])
    ).content.decode()

    shown = formats.date_format(timezone.localtime(placed), "DATETIME_FORMAT")
    assert shown == f"{timezone.localtime(placed):%-d %b %Y %H:%M}"
    assert f"<td>{shown}</td>" in page and order.number in page


def test_intake_rule_judges_orders_as_they_came_in(admin_client):
    now = timezone.now()
    shipped = factories.OrderFactory(
        total="300.00", placed_at=now, status=OrderStatus.SHIPPED
    )
    checked = factories.OrderFactory(
        total="300.00", placed_at=now, status=OrderStatus.ALLOCATED
    )
    OrderEvent.objects.create(
        order=checked,
        kind=OrderEvent.Kind.HELD,
        message="Put on hold: Address check.",
        data={"reason": HoldReason.ADDRESS_CHECK, "from": OrderStatus.PENDING},
    )
    held = rule("Big", [("total", "gte", "250")], [("hold", "fraud_review", "")])
    failed_address = rule(
        "Address", [("address_failed", "yes", "")], [("add_tag", "addr")]
    )

    preview = rule_preview(rule=held)
    address_preview = rule_preview(rule=failed_address)
    page = admin_client.get(
        reverse("admin:orders_rule_try", args=[held.pk])
    ).content.decode()

    rows = {row.number: row for row in preview.rows}
    assert rows[shipped.number].status == "Pending"
    assert rows[shipped.number].would.startswith("Held (Fraud review)")
    assert "already on hold: Address check" in rows[checked.number].would
    assert [row.number for row in address_preview.rows] == [checked.number]
    assert "Status at intake" in page


def test_allocation_rule_judges_orders_as_they_are(admin_client):
    shipped = factories.OrderFactory(
        total="300.00", placed_at=timezone.now(), status=OrderStatus.SHIPPED
    )
    held = rule(
        "Big",
        [("total", "gte", "250")],
        [("hold", "fraud_review", "")],
        trigger=Rule.Trigger.ALLOCATED,
    )

    [row] = rule_preview(rule=held).rows

    assert row.number == shipped.number and row.status == "Shipped"
    assert row.would.startswith("Not held (Shipped orders cannot be held)")
