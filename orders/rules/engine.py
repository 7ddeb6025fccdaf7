"""Evaluating rules against many orders in memory.

`evaluate` runs the rules (`orders.rules.load.rules_load`) in order, each
over all the orders' facts (`orders.rules.load.facts_load`) at once (as if
each order walked through them), and returns what each matching rule does,
without touching the database. `orders.rules.services` writes the effects
in bulk.

A rule that fails on an order (it cannot be loaded, compiled, checked or
applied: any exception) is skipped for that order, which goes on held
"Rule failed" (`Applied.failed` says why): nothing a rule holds stops
intake.
"""

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from orders.models import (
    HOLDABLE,
    HoldReason,
    Order,
    OrderStatus,
    RatePreference,
    RuleAction,
    RuleCondition,
)
from orders.rules.load import Facts, LoadedRule, failure_text
from orders.rules.schema import (
    LIST_OPS,
    PREFIX_OPS,
    Action,
    Condition,
)

Op = RuleCondition.Operator


@dataclass(slots=True)
class Applied:
    """One rule that matched one order, and what it did in words."""

    rule: LoadedRule
    order_id: int
    done: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    # Why the rule failed on the order, which it was skipped for ("" when it
    # ran): `done`/`data` then say only how the order was held.
    failed: str = ""


COMPARE = {
    Op.GTE: operator.ge,
    Op.GT: operator.gt,
    Op.LTE: operator.le,
    Op.LT: operator.lt,
}

# The fact a text condition compares, by field.
TEXT_FACTS = {
    RuleCondition.Field.CHANNEL: "channel",
    RuleCondition.Field.SHIP_COUNTRY: "country",
    RuleCondition.Field.SHIP_REGION: "region",
    RuleCondition.Field.POSTCODE: "postcode",
    RuleCondition.Field.EMAIL: "email",
    RuleCondition.Field.EMAIL_DOMAIN: "email_domain",
    RuleCondition.Field.SHIPPING_METHOD: "shipping_method",
}
NUMBER_FACTS = {
    RuleCondition.Field.TOTAL: "total",
    RuleCondition.Field.ITEM_COUNT: "items",
    RuleCondition.Field.WEIGHT: "weight",
}
SET_FACTS = {
    RuleCondition.Field.SKU: "skus",
    RuleCondition.Field.PRODUCT_TAG: "product_tags",
    RuleCondition.Field.ORDER_TAG: "tags",
}

Test = Callable[[Facts], bool]


def _never(fact: Facts) -> bool:
    return False


def condition_compile(condition: Condition, today: date) -> Test:
    """One condition as a plain function of an order's facts: the field, the
    operator and the value are looked at once here, not once per order."""
    field, op, value = condition.field, condition.operator, condition.value
    if field == RuleCondition.Field.FIRST_ORDER:
        wanted = op == Op.YES
        return lambda fact: fact.first_order == wanted
    if field == RuleCondition.Field.ADDRESS_FAILED:
        wanted = op == Op.YES
        on_hold, reason = OrderStatus.ON_HOLD, HoldReason.ADDRESS_CHECK
        return lambda fact: (
            (fact.status == on_hold and fact.hold_reason == reason) == wanted
        )
    if field in NUMBER_FACTS:
        get = operator.attrgetter(NUMBER_FACTS[field])
        compare = COMPARE.get(op, operator.eq)
        return lambda fact: compare(get(fact), value)
    if field == RuleCondition.Field.DELIVERY_WITHIN:
        limit = today + timedelta(days=value)
        if op == Op.LTE:
            return lambda fact: (
                fact.delivery_date is not None and fact.delivery_date <= limit
            )
        return lambda fact: (
            fact.delivery_date is not None and not fact.delivery_date <= limit
        )
    if field in SET_FACTS:
        get = operator.attrgetter(SET_FACTS[field])
        disjoint = value.isdisjoint
        if op == Op.CONTAINS:
            return lambda fact: not disjoint(get(fact))
        return lambda fact: disjoint(get(fact))
    get = operator.attrgetter(TEXT_FACTS[field])
    if op in PREFIX_OPS:
        if op == Op.STARTS_WITH:
            return lambda fact: get(fact).startswith(value)
        return lambda fact: not get(fact).startswith(value)
    if op in LIST_OPS:
        if op == Op.IS:
            return lambda fact: get(fact) in value
        return lambda fact: get(fact) not in value
    return _never


def condition_holds(condition: Condition, fact: Facts, today: date) -> bool:
    """Whether one condition is true of one order."""
    return condition_compile(condition, today)(fact)


def rule_compile(rule: LoadedRule, today: date) -> Test:
    """The rule's conditions as one function of an order's facts."""
    tests = tuple(condition_compile(c, today) for c in rule.conditions)
    if not tests:
        return lambda fact: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        if rule.match_all:
            return lambda fact: first(fact) and second(fact)
        return lambda fact: first(fact) or second(fact)
    match_all = rule.match_all

    def test(fact: Facts) -> bool:
        for one in tests:
            if bool(one(fact)) is not match_all:
                return not match_all
        return match_all

    return test


def rule_matches(rule: LoadedRule, fact: Facts, today: date) -> bool:
    return rule_compile(rule, today)(fact)


def _act(action: Action, fact: Facts, applied: Applied) -> None:
    """Take one action on the facts (in memory) and say what it did."""
    kind = action.kind
    if kind == RuleAction.Kind.HOLD:
        if fact.status == OrderStatus.ON_HOLD:
            applied.done.append(
                f"not held again (already on hold: {HoldReason(fact.hold_reason).label})"
                if fact.hold_reason
                else "not held again (already on hold)"
            )
            return
        if fact.status not in HOLDABLE:
            applied.done.append(
                f"not held ({OrderStatus(fact.status).label} orders cannot be held)"
            )
            return
        label = HoldReason(action.value).label
        applied.done.append(
            f"held ({label}{': ' + action.note if action.note else ''})"
        )
        applied.data.append(
            {
                "action": kind,
                "reason": action.value,
                "from": fact.status,
                "note": action.note,
            }
        )
        fact.status, fact.hold_reason = OrderStatus.ON_HOLD, action.value
    elif kind == RuleAction.Kind.PRIORITY:
        if fact.priority != action.value:
            fact.priority = action.value
            applied.done.append(f"priority set to {Order.Priority(action.value).label}")
            applied.data.append({"action": kind, "priority": action.value})
    elif kind == RuleAction.Kind.SHIPPING_METHOD:
        if fact.shipping_method != action.value.lower():
            fact.shipping_method = action.value.lower()
            applied.done.append(f"shipping method set to {action.value}")
            applied.data.append({"action": kind, "shipping_method": action.value})
    elif kind == RuleAction.Kind.POSTAGE_SERVICE:
        carrier, service = action.value
        # EasyPost's names are matched in any case: "usps" is no new wish.
        if (fact.postage_carrier.lower(), fact.postage_service.lower()) != (
            carrier.lower(),
            service.lower(),
        ):
            fact.postage_carrier, fact.postage_service = carrier, service
            applied.done.append(f"postage set to {carrier} {service}")
            applied.data.append(
                {"action": kind, "carrier": carrier, "service": service}
            )
    elif kind == RuleAction.Kind.RATE_PREFERENCE:
        if fact.rate_preference != action.value:
            fact.rate_preference = action.value
            label = RatePreference(action.value).label
            applied.done.append(f"postage rate preference set to {label}")
            applied.data.append({"action": kind, "rate_preference": action.value})
    elif kind == RuleAction.Kind.PIN_LOCATION:
        fact.routing_pin = action.location_id
        applied.done.append(f"routed to ship from {action.location_code}")
        applied.data.append({"action": kind, "location": action.location_code})
    elif kind == RuleAction.Kind.EXCLUDE_LOCATION:
        if action.location_id not in fact.routing_exclude:
            fact.routing_exclude = (*fact.routing_exclude, action.location_id)
        applied.done.append(f"never shipped from {action.location_code}")
        applied.data.append({"action": kind, "location": action.location_code})
    elif kind == RuleAction.Kind.ADD_TAG:
        if action.value not in fact.tags:
            fact.tags.add(action.value)
            applied.done.append(f"tagged '{action.value}'")
            applied.data.append({"action": kind, "tag": action.value})
    elif kind == RuleAction.Kind.EMAIL:
        applied.done.append(f"e-mail queued to {action.value}")
        applied.data.append({"action": kind, "to": action.value})


Effect = Callable[[Facts, Applied], None]


def action_compile(action: Action) -> Effect:
    """One action as a plain function of (facts, outcome), its words worked
    out once; the same as `_act`."""
    kind, value = action.kind, action.value
    if kind == RuleAction.Kind.PRIORITY:
        said = f"priority set to {Order.Priority(value).label}"

        def effect(fact: Facts, applied: Applied) -> None:
            if fact.priority != value:
                fact.priority = value
                applied.done.append(said)
                applied.data.append({"action": kind, "priority": value})

        return effect
    if kind == RuleAction.Kind.ADD_TAG:
        said = f"tagged '{value}'"

        def effect(fact: Facts, applied: Applied) -> None:
            if value not in fact.tags:
                fact.tags.add(value)
                applied.done.append(said)
                applied.data.append({"action": kind, "tag": value})

        return effect
    if kind == RuleAction.Kind.SHIPPING_METHOD:
        said, lowered = f"shipping method set to {value}", value.lower()

        def effect(fact: Facts, applied: Applied) -> None:
            if fact.shipping_method != lowered:
                fact.shipping_method = lowered
                applied.done.append(said)
                applied.data.append({"action": kind, "shipping_method": value})

        return effect
    return lambda fact, applied: _act(action, fact, applied)


# The facts each action may change, restored when a rule fails halfway
# through an order's actions (tags last: the set is copied).
TOUCHES: dict[str, tuple[str, ...]] = {
    RuleAction.Kind.HOLD: ("status", "hold_reason"),
    RuleAction.Kind.PRIORITY: ("priority",),
    RuleAction.Kind.SHIPPING_METHOD: ("shipping_method",),
    RuleAction.Kind.POSTAGE_SERVICE: ("postage_carrier", "postage_service"),
    RuleAction.Kind.RATE_PREFERENCE: ("rate_preference",),
    RuleAction.Kind.PIN_LOCATION: ("routing_pin",),
    RuleAction.Kind.EXCLUDE_LOCATION: ("routing_exclude",),
    RuleAction.Kind.ADD_TAG: ("tags",),
    RuleAction.Kind.EMAIL: (),
}
ALL_TOUCHED = tuple(dict.fromkeys(name for names in TOUCHES.values() for name in names))


class RuleBroken(Exception):
    """A rule whose stored parts cannot run (`LoadedRule.error`)."""


class _Keep:
    """What a rule's actions may change of an order's facts, kept before they
    run (`keep(fact)`, one C call for a rule without tags) and put back
    should one fail (`restore`)."""

    def __init__(self, rule: LoadedRule) -> None:
        touched = {
            name
            for action in rule.actions
            for name in TOUCHES.get(action.kind, ALL_TOUCHED)
        }
        self.names = tuple(name for name in ALL_TOUCHED if name in touched)
        plain = tuple(name for name in self.names if name != "tags")
        get = operator.attrgetter(*plain) if plain else None
        if len(plain) == 1:
            one = get
            get = lambda fact: (one(fact),)  # noqa: E731 - attrgetter of one name
        if "tags" in touched:
            plain_get = get
            self.keep = lambda fact: (
                *(plain_get(fact) if plain_get else ()),
                set(fact.tags),
            )
        else:
            self.keep = get or (lambda fact: ())

    def restore(self, fact: Facts, kept: tuple) -> None:
        for name, value in zip(self.names, kept, strict=True):
            setattr(fact, name, set(value) if name == "tags" else value)


def rule_failed(rule: LoadedRule, fact: Facts, error: str) -> Applied:
    """The rule skipped for this order, which is held "Rule failed" (in
    memory, as `_act` holds: the caller writes it). Nothing here can fail
    on odd facts: no label is looked up."""
    outcome = Applied(rule, fact.pk, failed=error)
    if fact.status in HOLDABLE:
        outcome.done.append(gettext("held (Rule failed)"))
        outcome.data.append(
            {
                "action": RuleAction.Kind.HOLD,
                "reason": HoldReason.RULE_FAILED,
                "from": fact.status,
                "note": "",
            }
        )
        fact.status, fact.hold_reason = OrderStatus.ON_HOLD, HoldReason.RULE_FAILED
    elif fact.status == OrderStatus.ON_HOLD:
        outcome.done.append(gettext("not held again (already on hold)"))
    else:
        outcome.done.append(gettext("not held (the order is past holding)"))
    return outcome


def _matching_alone(
    rule: LoadedRule, test: Test, live: Sequence[Facts], add: Callable
) -> list[Facts]:
    """The orders the rule matches, each checked alone: those it fails on are
    held (`rule_failed`) and left out."""
    matched = []
    for fact in live:
        try:
            hit = test(fact)
        except Exception as error:
            add(rule_failed(rule, fact, failure_text(error)))
            continue
        if hit:
            matched.append(fact)
    return matched


def evaluate(
    *, rules: Sequence[LoadedRule], facts: Sequence[Facts], today: date | None = None
) -> list[Applied]:
    """Walk each order through the rules in order; return every rule that
    matched, with what it did (rule by rule: each order's in the rules'
    order), and every rule that failed on an order (`Applied.failed`). The
    facts change in memory only.

    Each rule is compiled once into a plain function of the facts and run
    over all the orders still in play at once (`filter`): a rule sees each
    order as the rules before it left it, as if the orders went through the
    rules one by one, at one call per (order, rule) and nothing else for a
    rule that does not match.

    A rule that cannot be loaded or compiled fails on every order; one whose
    check raises on an order is checked again order by order, failing only
    where it raises; one whose action raises is undone on that order
    (`_Keep`). Either way the order is held "Rule failed", the rule counts
    as not matched there (its "stop here" does not stop it) and the later
    rules still run."""
    today = today or timezone.localdate()
    applied: list[Applied] = []
    add = applied.append
    live = list(facts)
    for rule in rules:
        try:
            if rule.error:
                raise RuleBroken(rule.error)
            test = rule_compile(rule, today)
            effects = tuple(action_compile(action) for action in rule.actions)
            kept = _Keep(rule)
        except Exception as error:
            text = rule.error or failure_text(error)
            for fact in live:
                add(rule_failed(rule, fact, text))
            continue
        try:
            matched = list(filter(test, live))
        except Exception:
            matched = _matching_alone(rule, test, live, add)
        keep, undone = kept.keep, []
        for fact in matched:
            outcome = Applied(rule, fact.pk)
            before = keep(fact)
            try:
                for effect in effects:
                    effect(fact, outcome)
            except Exception as error:
                kept.restore(fact, before)
                undone.append(fact)
                add(rule_failed(rule, fact, failure_text(error)))
                continue
            add(outcome)
        if rule.stop_here and len(matched) > len(undone):
            stopped = set(map(id, matched)) - set(map(id, undone))
            live = [fact for fact in live if id(fact) not in stopped]
    return applied


def describe(applied: Applied) -> str:
    """The timeline's words: "Held (Fraud review) and tagged 'vip' by rule 'X'.",
    or for a rule that failed: "Rule 'X' failed and was skipped for this
    order (…). Held (Rule failed)."."""
    done = applied.done or ["matched (nothing to change)"]
    text = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
    if applied.failed:
        return gettext(
            "Rule '%(rule)s' failed and was skipped for this order (%(error)s). "
            "%(done)s."
        ) % {
            "rule": applied.rule.name,
            "error": applied.failed.rstrip("."),
            "done": f"{text[:1].upper()}{text[1:]}",
        }
    return f"{text[:1].upper()}{text[1:]} by rule '{applied.rule.name}'."
