"""Rules cannot break intake (issue 28.1): a rule that fails at run time (here
an old row whose value is past the bounds, written straight to the table)
is skipped; the CSV import, the API and a Shopify order all go on, each held
"Rule failed" with the rule named on its timeline; the rule is marked
failing on its page and on the dashboard; *Try* shows the error."""

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connections.models import InboundMessage
from connections.services.api_keys import channel_api_key_create
from inventory.models import Allocation
from orders.importing.confirm import import_confirm
from orders.importing.services import orders_import
from orders.models import (
    Customer,
    HoldReason,
    Order,
    OrderEvent,
    OrderStatus,
    OrderTagging,
    Rule,
    RuleCondition,
)
from orders.rules import services
from orders.rules.failures import rule_failures_record
from orders.rules.preview import rule_preview
from orders.rules.schema import OPERATORS
from orders.rules.services import rules_apply
from tests import factories
from tests.connections.test_inbox_webhooks import SECRET, post_shopify, shopify_order
from tests.orders.rules.support import rule
from tests.orders.rules.test_sources import CSV
from tests.orders.test_import_rules import HEADER, row
from tests.support.admin_forms import order_add_form
from tests.test_admin import admin_url
from tests.test_dashboard import attention, index_queries

pytestmark = pytest.mark.django_db

FAILED = (
    "Rule 'Deliver soon' failed and was skipped for this order (“Requested "
    "delivery within (days)” takes a number of days from 0 to 730 (two years), "
    "written with the digits 0-9, not '3000000'). Held (Rule failed)."
)


@pytest.fixture
def failing(db, product, stock):
    """A rule whose stored value is past the bounds, as an old row (or one
    written by SQL) would be, between two rules that work."""
    stock(product, 100)
    rule("Tag first", [], [("add_tag", "first")], position=1)
    made = rule(
        "Deliver soon",
        [("delivery_within", "lte", "7")],
        [("priority", "urgent")],
        position=2,
        stop_here=True,
    )
    RuleCondition.objects.filter(rule=made).update(value="3000000")
    rule("Tag after", [], [("add_tag", "after")], position=3)
    return made


def assert_held_by_the_failing_rule(order: Order, failing: Rule) -> None:
    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.held_from) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
        OrderStatus.PENDING,
    )
    assert order.priority == Order.Priority.NORMAL  # the failing rule did nothing
    # The rules around it ran.
    assert sorted(order.tags.values_list("name", flat=True)) == ["after", "first"]
    entries = list(
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE_FAILED)
    )
    assert [entry.message for entry in entries] == [FAILED]
    assert entries[0].data["rule"] == failing.pk
    assert entries[0].data["rule_name"] == "Deliver soon"
    assert not Allocation.objects.filter(order_line__order=order).exists()
    failing.refresh_from_db()
    assert failing.failed_at is not None
    assert "not '3000000'" in failing.failure


def test_csv_import_goes_on(failing, channel, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = import_confirm(
            data=CSV.encode(),
            actor=user,
            channel=channel,
            format_code="auto",
            filename="orders.csv",
            partial=False,
        )

    assert confirmed.result.written, confirmed.result.problems
    assert_held_by_the_failing_rule(Order.objects.get(external_id="CSV-1"), failing)


def test_api_order_goes_on(
    client, failing, channel, django_capture_on_commit_callbacks
):
    key = channel_api_key_create(channel=channel, name="shop")[1]
    body = {
        "external_id": "API-1",
        "currency": "USD",
        "shipping_method": "Standard",
        "customer": {"email": "api@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "region": "TX",
            "postcode": "78701",
            "country": "US",
        },
        "lines": [{"sku": "TSH-BLK-M", "quantity": 3, "unit_price": "10.00"}],
    }
    auth = {"Authorization": f"Bearer {key}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/orders", body, content_type="application/json", headers=auth
        )

    assert response.status_code == 201, response.content
    found = client.get("/api/v1/orders/API-1", headers=auth)
    assert found.status_code == 200, found.content
    assert found.json()["status"] == OrderStatus.ON_HOLD
    assert_held_by_the_failing_rule(Order.objects.get(external_id="API-1"), failing)


def test_shopify_order_goes_on(client, failing, django_capture_on_commit_callbacks):
    factories.ChannelFactory(
        code="shopify-us", name="Shopify US", platform="shopify", inbound_secret=SECRET
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, shopify_order())

    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.PROCESSED, message.error
    assert_held_by_the_failing_rule(Order.objects.get(external_id="#1001"), failing)


def test_the_rule_is_shown_failing_on_its_page_the_list_and_the_dashboard(
    admin_client, failing, channel, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        orders_import(
            data=(HEADER + row("A-1", "a@example.com", 1, "5.00")).encode(),
            actor=user,
            channel=channel,
            filename="f.csv",
        )

    page = admin_client.get(reverse("admin:orders_rule_change", args=[failing.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "oms-rule-failing" in text
    assert "not &#x27;3000000&#x27;" in text
    assert "Fix the rule and save it to clear this." in text

    listed = admin_client.get(
        reverse("admin:orders_rule_changelist"), {"failed_at__isempty": "0"}
    )
    assert [r.name for r in listed.context["cl"].result_list] == ["Deliver soon"]

    _, dashboard = index_queries(admin_client)
    count, link = attention(dashboard)[
        "Rules failing (their orders held “Rule failed”)"
    ]
    assert count == "1"
    assert admin_client.get(link).context["cl"].result_count == 1


def test_saving_the_fixed_rule_clears_the_mark(admin_client, failing):
    rule_failures_record(failures={failing.pk: ("Broken.", failing.updated_at)})
    condition = failing.conditions.get()
    data = {
        "name": failing.name,
        "position": "2",
        "active": "on",
        "trigger": "intake",
        "match": "all",
        "stop_here": "on",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "1",
        "conditions-0-id": str(condition.pk),
        "conditions-0-rule": str(failing.pk),
        "conditions-0-field": "delivery_within",
        "conditions-0-operator": "lte",
        "conditions-0-value": "3000000",
        "actions-TOTAL_FORMS": "0",
        "actions-INITIAL_FORMS": "0",
    }
    url = reverse("admin:orders_rule_change", args=[failing.pk])

    refused = admin_client.post(url, data)
    assert refused.status_code == 200  # the old value must be fixed first
    assert "from 0 to 730" in refused.content.decode()

    response = admin_client.post(url, data | {"conditions-0-value": "7"})
    assert response.status_code == 302, response.content.decode()[:2000]
    failing.refresh_from_db()
    assert (failing.failed_at, failing.failure) == (None, "")


def test_a_failure_met_before_the_rule_was_saved_does_not_mark_it(failing):
    seen = failing.updated_at
    failing.save()  # a manager saved it meanwhile

    assert rule_failures_record(failures={failing.pk: ("Broken.", seen)}) == 0
    failing.refresh_from_db()
    assert failing.failed_at is None


def test_try_shows_the_failure_and_does_not_crash(admin_client, failing):
    orders = [factories.OrderFactory() for _ in range(3)]

    response = admin_client.get(reverse("admin:orders_rule_try", args=[failing.pk]))

    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.matched, preview.failed) == (0, 3)
    [failure] = preview.failures
    assert "not '3000000'" in failure.error
    assert sorted(failure.numbers) == sorted(o.number for o in orders)
    page = response.content.decode()
    assert 'id="rule-failures"' in page
    assert "The rule fails on 3 orders" in page
    # Nothing was changed or marked.
    assert not Order.objects.filter(status=OrderStatus.ON_HOLD).exists()
    failing.refresh_from_db()
    assert failing.failed_at is None


def test_try_shows_a_rule_that_fails_on_some_orders_only(db):
    made = rule("Big", [("total", "gte", "100")], [("add_tag", "big")])
    big = factories.OrderFactory(total="500.00")
    factories.OrderFactory(total="5.00")
    preview = rule_preview(rule=made)
    assert (preview.matched, preview.failed) == (1, 0)
    assert [r.number for r in preview.rows] == [big.number]


def test_the_import_reads_nothing_per_row_for_a_failing_rule(failing, channel, user):
    def queries(n: int, start: int) -> int:
        text = "".join(
            row(f"Q-{start + i}", f"q{start + i}@example.com", 1, "5.00")
            for i in range(n)
        )
        with CaptureQueriesContext(connection) as captured:
            result = orders_import(
                data=(HEADER + text).encode(),
                actor=user,
                channel=channel,
                filename="f.csv",
            )
        assert result.written, result.problems
        return len(captured)

    few = queries(3, 0)
    many = queries(30, 100)

    assert many == few
    assert Order.objects.filter(hold_reason=HoldReason.RULE_FAILED).count() == 33


def failing_tags_insert(**kwargs):
    """A database error in the middle of the rules' writes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


def test_a_write_that_fails_is_undone_and_the_order_held(
    failing, django_capture_on_commit_callbacks
):
    """Writing what the rules did fails (a database error): none of it stays
    (the priority the rule set is rolled back with the rest), the order is
    held "Rule failed" naming the rules that touched it, and goes on."""
    Rule.objects.filter(pk=failing.pk).delete()
    rule("Urgent", [], [("priority", "urgent")], position=2)
    order = factories.OrderFactory()

    with (
        mock.patch("orders.rules.services.order_tags_insert", failing_tags_insert),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    assert outcome.held == {order.pk}
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
    )
    assert order.priority == Order.Priority.NORMAL
    assert not OrderTagging.objects.filter(order_id=order.pk).exists()
    messages = list(
        OrderEvent.objects.filter(order=order).values_list("kind", "message")
    )
    assert [kind for kind, _ in messages] == [OrderEvent.Kind.RULE_FAILED] * 3
    assert all(
        "(what the rules did could not be written: DataError: division by zero)"
        in message
        for _, message in messages
    )
    assert sorted(
        Rule.objects.exclude(failed_at=None).values_list("name", flat=True)
    ) == [
        "Tag after",
        "Tag first",
        "Urgent",
    ]


def test_an_import_whose_rule_writes_fail_still_writes_its_orders(
    failing, channel, user, django_capture_on_commit_callbacks
):
    copy = services.copy_lines

    def copy_lines(model, columns, lines):
        if model is OrderTagging:
            failing_tags_insert()
        return copy(model, columns, lines)

    Rule.objects.filter(pk=failing.pk).delete()
    rule("Urgent", [], [("priority", "urgent")], position=2)
    with (
        mock.patch("orders.rules.services.copy_lines", copy_lines),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = orders_import(
            data=(HEADER + row("W-1", "w@example.com", 1, "5.00")).encode(),
            actor=user,
            channel=channel,
            filename="f.csv",
        )

    assert result.written, result.problems
    order = Order.objects.get(external_id="W-1")
    assert (order.status, order.hold_reason, order.priority) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
        Order.Priority.NORMAL,
    )
    assert not OrderTagging.objects.filter(order_id=order.pk).exists()
    assert (
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.RULE_FAILED).count()
        == 3
    )


def test_an_order_typed_in_the_admin_goes_on(admin_client, failing, channel, product):
    customer = Customer.objects.create(email="adm@example.com")
    response = admin_client.post(
        admin_url(Order, "add"),
        order_add_form(channel=channel, customer=customer, product=product),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(external_id="PHONE-1")
    assert (order.status, order.hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
    )
    assert OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.RULE_FAILED, data__rule=failing.pk
    ).exists()


def test_a_rule_failing_when_allocated_holds_the_allocated_order(
    place_order, product, stock, django_capture_on_commit_callbacks
):
    stock(product, 10)
    made = rule(
        "Heavy",
        [("weight", "gte", "1000")],
        [("add_tag", "heavy")],
        trigger=Rule.Trigger.ALLOCATED,
    )
    RuleCondition.objects.filter(rule=made).update(value="٣")

    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 2)])

    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.held_from) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
        OrderStatus.ALLOCATED,
    )
    # Held with its stock, as any hold of an allocated order.
    assert Allocation.objects.filter(order_line__order=order).exists()
    made.refresh_from_db()
    assert "not '٣'" in made.failure


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(
        ["delivery_within", "item_count", "weight", "total", "ship_country"]
    ),
    stored=st.one_of(
        st.sampled_from(["0", "3", "730", "731", "US", "us, de", "²", " 2 "]),
        st.text(
            alphabet=st.characters(
                blacklist_categories=["Cs"], blacklist_characters="\x00"
            ),
            max_size=12,
        ),
        st.integers(min_value=-(10**15), max_value=10**15).map(str),
    ),
)
def test_whatever_value_is_stored_the_order_goes_on(field, stored):
    """Any value in a rule's row, written past the form: the rule runs or
    fails, the order is written either way and never half-ruled."""
    made = rule(
        f"Stored {field}",
        [(field, OPERATORS[field][0][0], "1" if field != "ship_country" else "US")],
        [("priority", "urgent"), ("add_tag", "ruled")],
    )
    RuleCondition.objects.filter(rule=made).update(value=stored)
    order = factories.OrderFactory(total="5.00")

    outcome = rules_apply(order_ids=[order.pk], trigger="intake", actor=None)

    order.refresh_from_db()
    entries = list(
        OrderEvent.objects.filter(order=order).values_list("kind", flat=True)
    )
    tags = list(order.tags.values_list("name", flat=True))
    if order.hold_reason == HoldReason.RULE_FAILED:
        event("the rule failed: the order held")
        assert entries == [OrderEvent.Kind.RULE_FAILED]
        assert (order.priority, tags) == (Order.Priority.NORMAL, [])
        assert outcome.held == {order.pk}
    else:
        assert order.status == OrderStatus.PENDING
        assert entries in ([], [OrderEvent.Kind.RULE])
        ruled = entries == [OrderEvent.Kind.RULE]
        event("the rule ran: matched" if ruled else "the rule ran: no match")
        assert (order.priority == Order.Priority.URGENT) is ruled
        assert tags == (["ruled"] if ruled else [])
    made.delete()
