"""The postage actions: a rule sets the order's carrier + service or its rate
preference (checked as written, applied in memory, written set-based, on the
timeline, from every intake source the same)."""

import pytest
from django.urls import reverse

from orders.exceptions import OrderError
from orders.importing.confirm import import_confirm
from orders.models import Order, OrderEvent, RatePreference, Rule
from orders.rules.engine import evaluate
from orders.rules.load import facts_load, rules_load
from orders.rules.preview import rule_preview
from orders.rules.schema import RuleSchemaError, action_parse
from orders.rules.services import rules_apply
from orders.services.order_edits import order_update
from tests.orders.rules.support import rule
from tests.orders.rules.test_admin import form_data
from tests.orders.rules.test_sources import CSV
from tests.test_admin import admin_url

pytestmark = pytest.mark.django_db

POSTAGE, PREFERENCE = "postage_service", "rate_preference"


@pytest.mark.parametrize(
    ("written", "carrier", "service"),
    [
        ("USPS Priority", "USPS", "Priority"),
        ("  UPS   Ground ", "UPS", "Ground"),
        ("UPS / Next Day Air", "UPS", "Next Day Air"),
        ("FedEx/FEDEX_GROUND", "FedEx", "FEDEX_GROUND"),
    ],
)
def test_postage_service_is_split_into_carrier_and_service(written, carrier, service):
    assert action_parse(kind=POSTAGE, value=written).value == (carrier, service)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "needs the EasyPost carrier and service"),
        ("USPS", "such as “USPS Priority” or “UPS / Ground”"),
        ("Canada Post / Expedited", "not 'Canada Post / Expedited'"),
        ("/ Priority", "needs the EasyPost carrier and service"),
        ("USPS " + "P" * 65, "at most 64 characters each"),
    ],
)
def test_postage_service_refused_with_what_to_write(written, message):
    with pytest.raises(RuleSchemaError, match=message):
        action_parse(kind=POSTAGE, value=written)


@pytest.mark.parametrize(
    ("written", "preference"),
    [
        ("cheapest", RatePreference.CHEAPEST),
        ("BY_DATE", RatePreference.CHEAPEST_BY_DATE),
        ("Cheapest of the preferred carriers", RatePreference.PREFERRED_CARRIERS),
    ],
)
def test_rate_preference_by_value_or_label(written, preference):
    assert action_parse(kind=PREFERENCE, value=written).value == preference


def test_rate_preference_refused_names_the_choices():
    with pytest.raises(RuleSchemaError, match="cheapest, by_date, preferred"):
        action_parse(kind=PREFERENCE, value="fastest")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ((POSTAGE, "Priority", ""), "needs the EasyPost carrier and service"),
        ((PREFERENCE, "fastest", ""), "takes one of cheapest, by_date, preferred"),
    ],
)
def test_the_rule_form_refuses_a_bad_postage_action(admin_client, action, message):
    response = admin_client.post(
        reverse("admin:orders_rule_add"),
        form_data([("total", "gte", "1")], [action]),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Rule.objects.exists()


def test_engine_sets_postage_in_memory_and_a_later_rule_sees_it(place_order, product):
    order = place_order([(product, 1)], allocate=False)
    rule("Priority mail", [], [(POSTAGE, "USPS Priority")], position=1)
    rule("Cheapest too", [], [(PREFERENCE, "cheapest")], position=2)
    rule("Again", [], [(POSTAGE, "usps / priority")], position=3)
    rules = rules_load(trigger=Rule.Trigger.INTAKE)
    [fact] = facts_load(order_ids=[order.pk], rules=rules)

    applied = evaluate(rules=rules, facts=[fact])

    assert (fact.postage_carrier, fact.postage_service) == ("USPS", "Priority")
    assert fact.rate_preference == RatePreference.CHEAPEST
    assert [a.done for a in applied] == [
        ["postage set to USPS Priority"],
        ["postage rate preference set to Cheapest"],
        # The same carrier and service in another case: nothing to change.
        [],
    ]
    order.refresh_from_db()
    assert order.postage_carrier == ""  # evaluating writes nothing


def test_intake_rule_writes_the_postage_and_says_so(place_order, product, stock):
    stock(product, 5)
    rule(
        "Heavy by UPS",
        [("item_count", "gte", "2")],
        [(POSTAGE, "UPS / Ground"), (PREFERENCE, "by_date")],
    )

    heavy = place_order([(product, 2)])
    light = place_order([(product, 1)])

    assert (heavy.postage_carrier, heavy.postage_service) == ("UPS", "Ground")
    assert heavy.rate_preference == RatePreference.CHEAPEST_BY_DATE
    assert (light.postage_carrier, light.postage_service, light.rate_preference) == (
        "",
        "",
        "",
    )
    assert list(
        OrderEvent.objects.filter(order=heavy, kind=OrderEvent.Kind.RULE).values_list(
            "message", flat=True
        )
    ) == [
        "Postage set to UPS Ground and postage rate preference set to Cheapest "
        "arriving by the requested delivery date by rule 'Heavy by UPS'."
    ]
    assert heavy.history.filter(pgh_context__reason="rule").exists()


def test_an_order_that_has_the_postage_already_is_not_written_again(
    place_order, product
):
    order = place_order([(product, 1)], allocate=False)
    Order.objects.filter(pk=order.pk).update(
        postage_carrier="USPS", postage_service="Priority"
    )
    rule("Priority mail", [], [(POSTAGE, "USPS Priority")])
    version = Order.objects.get(pk=order.pk).version

    outcome = rules_apply(order_ids=[order.pk], trigger=Rule.Trigger.INTAKE, actor=None)

    assert outcome.changed == set()
    assert Order.objects.get(pk=order.pk).version == version


def test_csv_import_gets_the_postage_from_the_rules(channel, product, stock, user):
    stock(product, 10)
    rule("US by Priority", [("ship_country", "is", "US")], [(POSTAGE, "USPS Priority")])

    confirmed = import_confirm(
        data=CSV.encode(),
        actor=user,
        channel=channel,
        format_code="auto",
        filename="orders.csv",
        partial=False,
    )

    assert confirmed.result.written, confirmed.result.problems
    order = Order.objects.get(external_id="CSV-1")
    assert (order.postage_carrier, order.postage_service) == ("USPS", "Priority")
    assert OrderEvent.objects.filter(
        order=order,
        kind=OrderEvent.Kind.RULE,
        message="Postage set to USPS Priority by rule 'US by Priority'.",
    ).exists()


def test_try_it_says_what_the_postage_would_be_and_changes_nothing(
    place_order, product
):
    order = place_order([(product, 1)], allocate=False)
    made = rule("Cheapest", [], [(PREFERENCE, "cheapest")], active=False)

    preview = rule_preview(rule=made)

    assert [row.would for row in preview.rows] == [
        "Postage rate preference set to Cheapest by rule 'Cheapest'."
    ]
    assert Order.objects.get(pk=order.pk).rate_preference == ""


def test_order_page_shows_the_postage_wish_editable(admin_client, place_order, product):
    order = place_order([(product, 1)], allocate=False)
    Order.objects.filter(pk=order.pk).update(
        postage_carrier="USPS", postage_service="Priority"
    )

    response = admin_client.get(admin_url(Order, "change", order.pk))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form["postage_carrier"].value() == "USPS"
    assert form["postage_service"].value() == "Priority"
    assert "rate_preference" in form.fields  # editable, not read-only


def test_staff_change_the_postage_wish_on_the_timeline(place_order, product, user):
    order = place_order([(product, 1)], allocate=False)

    updated = order_update(
        order=order,
        actor=user,
        changes={
            "postage_carrier": "UPS",
            "postage_service": "Ground",
            "rate_preference": RatePreference.CHEAPEST,
        },
    ).order

    assert (updated.postage_carrier, updated.postage_service) == ("UPS", "Ground")
    assert Order.objects.get(pk=order.pk).rate_preference == RatePreference.CHEAPEST


def test_a_carrier_without_a_service_is_refused(place_order, product, user):
    order = place_order([(product, 1)], allocate=False)

    with pytest.raises(OrderError, match="both the postage carrier and the service"):
        order_update(order=order, actor=user, changes={"postage_carrier": "UPS"})

    assert Order.objects.get(pk=order.pk).postage_carrier == ""
