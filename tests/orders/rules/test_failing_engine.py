"""A rule that fails at run time is skipped for the order it fails on, which
goes on held "Rule failed"; what the rule did halfway is undone; the later
rules still run (issue 28.1). In memory: no database."""

from datetime import date

from orders.models import HoldReason, OrderStatus, RuleAction, RuleCondition
from orders.rules.engine import Applied, describe, evaluate
from orders.rules.load import LoadedRule
from orders.rules.schema import Action, Condition
from tests.orders.rules.test_engine_batch import fact, loaded

TODAY = date(2026, 11, 20)


def broken(pk, conditions=(), actions=(), *, error="", stop_here=False):
    """A rule as the engine gets it, its parts not checked by the schema (as
    a row written before the bounds, or straight to the table, would be)."""
    return LoadedRule(
        pk=pk,
        name=f"Rule {pk}",
        match_all=True,
        stop_here=stop_here,
        conditions=tuple(conditions),
        actions=tuple(actions),
        error=error,
    )


def by_order(applied: list[Applied]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for a in applied:
        found.setdefault(a.order_id, []).append((a.rule.name, a.failed))
    return found


def test_a_rule_that_cannot_compile_fails_on_every_order_and_the_rest_run():
    days = Condition(
        RuleCondition.Field.DELIVERY_WITHIN, RuleCondition.Operator.LTE, 3000000
    )
    rules = [
        broken(1, [days], [Action(RuleAction.Kind.ADD_TAG, "soon")], stop_here=True),
        loaded(2, [("total", "gte", "0")], [("add_tag", "seen")]),
    ]
    orders = [fact(1, total="10"), fact(2, total="20", status=OrderStatus.SHIPPED)]

    applied = evaluate(rules=rules, facts=orders, today=TODAY)

    failed = [a for a in applied if a.failed]
    assert [a.order_id for a in failed] == [1, 2]
    assert all(a.failed.startswith("OverflowError: ") for a in failed)
    # The pending order is held; the shipped one cannot be, and says so.
    assert (orders[0].status, orders[0].hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
    )
    assert failed[0].data == [
        {
            "action": "hold",
            "reason": HoldReason.RULE_FAILED,
            "from": OrderStatus.PENDING,
            "note": "",
        }
    ]
    assert orders[1].status == OrderStatus.SHIPPED and not failed[1].data
    assert describe(failed[1]).endswith("Not held (the order is past holding).")
    # "Stop here" stops nothing: the rule did not match. The next rule runs.
    assert {pk: rules_of for pk, rules_of in by_order(applied).items()} == {
        1: [("Rule 1", failed[0].failed), ("Rule 2", "")],
        2: [("Rule 1", failed[1].failed), ("Rule 2", "")],
    }
    assert orders[0].tags == {"seen"}
    assert describe(failed[0]) == (
        "Rule 'Rule 1' failed and was skipped for this order (OverflowError: "
        "date value out of range). Held (Rule failed)."
    )


def test_a_rule_the_loader_refused_fails_with_its_message():
    rules = [broken(7, error="“Item count (units)” compares with …, not '²'.")]
    orders = [fact(1, total="10"), fact(2, total="10", status=OrderStatus.ON_HOLD)]
    orders[1].hold_reason = HoldReason.PAYMENT

    applied = evaluate(rules=rules, facts=orders, today=TODAY)

    assert [a.failed for a in applied] == [rules[0].error] * 2
    assert orders[0].hold_reason == HoldReason.RULE_FAILED
    # Already held: kept as it was, the failure still on its timeline.
    assert orders[1].hold_reason == HoldReason.PAYMENT
    assert describe(applied[1]).endswith("Not held again (already on hold).")


def test_a_check_that_raises_on_one_order_fails_there_only():
    rules = [loaded(1, [("total", "gte", "100")], [("add_tag", "big")])]
    orders = [fact(1, total="500"), fact(2, total="5"), fact(3, total="500")]
    orders[1].total = None  # what no order should have: comparing it raises

    applied = evaluate(rules=rules, facts=orders, today=TODAY)

    assert [(a.order_id, a.failed[:10]) for a in applied] == [
        (2, "TypeError:"),
        (1, ""),
        (3, ""),
    ]
    assert [o.tags for o in orders] == [{"big"}, set(), {"big"}]
    assert orders[1].hold_reason == HoldReason.RULE_FAILED
    assert orders[0].status == orders[2].status == OrderStatus.PENDING


def test_an_action_that_raises_halfway_is_undone_on_that_order():
    """The tag and the shipping method the rule's first actions set are taken
    back: the order is held "Rule failed", nothing else of the rule stays."""
    rules = [
        broken(
            1,
            [],
            [
                Action(RuleAction.Kind.ADD_TAG, "first"),
                Action(RuleAction.Kind.SHIPPING_METHOD, "Freight"),
                # Set, then its label looked up: raises after the change.
                Action(RuleAction.Kind.RATE_PREFERENCE, "bogus"),
            ],
        ),
        loaded(2, [], [("priority", "high")]),
    ]
    orders = [fact(1, total="10")]
    orders[0].tags.add("kept")

    applied = evaluate(rules=rules, facts=orders, today=TODAY)

    assert applied[0].failed.startswith("ValueError: 'bogus' is not a valid")
    assert orders[0].tags == {"kept"}
    assert orders[0].shipping_method == "standard"
    assert orders[0].rate_preference == ""
    assert orders[0].priority == 1  # by rule 2, which still ran
    assert (orders[0].status, orders[0].hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.RULE_FAILED,
    )
    assert applied[1].failed == "" and applied[1].done == ["priority set to High"]


def test_a_rule_that_runs_is_as_before():
    rules = [loaded(1, [("total", "gte", "100")], [("hold", "fraud_review")])]
    orders = [fact(1, total="500")]
    applied = evaluate(rules=rules, facts=orders, today=TODAY)
    assert applied[0].failed == ""
    assert describe(applied[0]) == "Held (Fraud review) by rule 'Rule 1'."
