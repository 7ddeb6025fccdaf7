"""Evaluating rules against many orders in memory.

`rules_load` reads the active rules of one trigger (three queries);
`facts_load` reads what those rules look at for a batch of orders in a few
set-based queries (the orders, and only when a rule needs them: their lines,
products, tags, the customers' first orders); `evaluate` walks each order
through the rules in order and returns what each matching rule does, without
touching the database. `orders.rules.services` writes the effects in bulk.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Min
from django.utils import timezone

from core.lookups import any_of, lookup_chunks
from inventory.models import Product
from orders.models import (
    HOLDABLE,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Rule,
    RuleAction,
    RuleCondition,
)
from orders.rules.schema import (
    LIST_OPS,
    PREFIX_OPS,
    Action,
    Condition,
    RuleSchemaError,
    action_parse,
    condition_parse,
)

F = RuleCondition.Field
Op = RuleCondition.Operator
A = RuleAction.Kind
LINE_FIELDS = {F.ITEM_COUNT, F.WEIGHT, F.SKU, F.PRODUCT_TAG}


@dataclass(frozen=True)
class LoadedRule:
    pk: int
    name: str
    match_all: bool
    stop_here: bool
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]


@dataclass
class Facts:
    """What the rules may look at of one order; actions update it in memory so
    a later rule sees what an earlier one did."""

    pk: int
    number: str
    status: str
    hold_reason: str
    channel: str
    country: str
    region: str
    postcode: str
    total: Decimal
    email: str
    shipping_method: str
    delivery_date: date | None
    priority: int
    routing_pin: int | None
    routing_exclude: tuple[int, ...]
    items: int = 0
    weight: int = 0
    skus: frozenset[str] = frozenset()
    product_tags: frozenset[str] = frozenset()
    first_order: bool = False
    tags: set[str] = field(default_factory=set)

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass
class Applied:
    """One rule that matched one order, and what it did in words."""

    rule: LoadedRule
    order_id: int
    done: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)


def rules_load(
    *, trigger: str, rule_ids: Sequence[int] | None = None
) -> list[LoadedRule]:
    """The active rules of a trigger, in order, parsed (or the given rules,
    active or not, for a preview). A rule whose stored parts no longer pass
    the checks is left out rather than run half."""
    rules = Rule.objects.filter(trigger=trigger)
    rules = (
        rules.filter(pk__in=rule_ids)
        if rule_ids is not None
        else rules.filter(active=True)
    )
    rules = list(rules.order_by("position", "pk"))
    if not rules:
        return []
    conditions: dict[int, list[RuleCondition]] = defaultdict(list)
    for condition in RuleCondition.objects.filter(rule__in=rules).order_by("pk"):
        conditions[condition.rule_id].append(condition)
    actions: dict[int, list[RuleAction]] = defaultdict(list)
    for action in (
        RuleAction.objects.filter(rule__in=rules)
        .select_related("location")
        .order_by("pk")
    ):
        actions[action.rule_id].append(action)
    loaded = []
    for rule in rules:
        try:
            loaded.append(
                LoadedRule(
                    pk=rule.pk,
                    name=rule.name,
                    match_all=rule.match == Rule.Match.ALL,
                    stop_here=rule.stop_here,
                    conditions=tuple(
                        condition_parse(
                            field=c.field, operator=c.operator, value=c.value
                        )
                        for c in conditions[rule.pk]
                    ),
                    actions=tuple(
                        action_parse(
                            kind=a.kind,
                            value=a.value,
                            note=a.note,
                            location_id=a.location_id,
                            location_code=a.location.code if a.location else "",
                        )
                        for a in actions[rule.pk]
                    ),
                )
            )
        except RuleSchemaError:
            continue
    return loaded


def _needs(rules: Sequence[LoadedRule]) -> set[str]:
    needed = {c.field for rule in rules for c in rule.conditions}
    if any(a.kind == A.ADD_TAG for rule in rules for a in rule.actions):
        needed.add(F.ORDER_TAG)
    return needed


def facts_load(*, order_ids: Sequence[int], rules: Sequence[LoadedRule]) -> list[Facts]:
    """The facts of these orders the rules need, in a few set-based queries."""
    needed = _needs(rules)
    facts: dict[int, Facts] = {}
    customer_of: dict[int, int] = {}
    for chunk in lookup_chunks(list(order_ids)):
        rows = (
            Order.objects.filter(any_of("pk", chunk))
            .order_by()
            .values_list(
                "pk",
                "number",
                "status",
                "hold_reason",
                "channel__code",
                "ship_country",
                "ship_region",
                "ship_postcode",
                "total",
                "customer_id",
                "customer__email",
                "shipping_method",
                "requested_delivery_date",
                "priority",
                "routing_pin_id",
                "routing_exclude",
            )
        )
        for (
            pk,
            number,
            status,
            hold_reason,
            channel,
            country,
            region,
            postcode,
            total,
            customer_id,
            email,
            method,
            delivery,
            priority,
            pin,
            exclude,
        ) in rows:
            customer_of[pk] = customer_id
            facts[pk] = Facts(
                pk=pk,
                number=number,
                status=status,
                hold_reason=hold_reason,
                channel=channel.lower(),
                country=str(country).upper(),
                region=region.strip().lower(),
                postcode=postcode.replace(" ", "").upper(),
                total=total,
                email=email.lower(),
                shipping_method=method.strip().lower(),
                delivery_date=delivery,
                priority=priority,
                routing_pin=pin,
                routing_exclude=tuple(exclude or ()),
            )
    ids = list(facts)
    if needed & LINE_FIELDS:
        lines: list[tuple[int, int, str, int]] = []
        for chunk in lookup_chunks(ids):
            lines.extend(
                OrderLine.objects.filter(any_of("order__id", chunk))
                .order_by()
                .values_list("order_id", "product_id", "sku", "quantity")
            )
        products: dict[int, tuple[int, frozenset[str]]] = {}
        if needed & {F.WEIGHT, F.PRODUCT_TAG}:
            product_ids = list({line[1] for line in lines})
            for chunk in lookup_chunks(product_ids):
                for pk, weight, tags in Product.objects.filter(
                    any_of("pk", chunk)
                ).values_list("pk", "weight_g", "tags"):
                    words = frozenset(
                        t.strip().lower() for t in tags.split(",") if t.strip()
                    )
                    products[pk] = (weight, words)
        skus: dict[int, set[str]] = defaultdict(set)
        tags: dict[int, set[str]] = defaultdict(set)
        for order_id, product_id, sku, quantity in lines:
            fact = facts[order_id]
            fact.items += quantity
            skus[order_id].add(sku.lower())
            if product_id in products:
                weight, words = products[product_id]
                fact.weight += weight * quantity
                tags[order_id].update(words)
        for order_id, fact in facts.items():
            fact.skus = frozenset(skus.get(order_id, ()))
            fact.product_tags = frozenset(tags.get(order_id, ()))
    if F.FIRST_ORDER in needed:
        customers = list(set(customer_of.values()))
        first: dict[int, int] = {}
        for chunk in lookup_chunks(customers):
            first.update(
                Order.objects.filter(any_of("customer__id", chunk))
                .order_by()
                .values("customer_id")
                .annotate(first=Min("pk"))
                .values_list("customer_id", "first")
            )
        for pk, fact in facts.items():
            fact.first_order = first.get(customer_of[pk]) == pk
    if F.ORDER_TAG in needed:
        through = Order.tags.through
        for chunk in lookup_chunks(ids):
            for order_id, name in (
                through.objects.filter(any_of("order__id", chunk))
                .order_by()
                .values_list("order_id", "ordertag__name")
            ):
                facts[order_id].tags.add(name)
    return [facts[pk] for pk in order_ids if pk in facts]


def _compare(operator: str, left, right) -> bool:
    if operator == Op.GTE:
        return left >= right
    if operator == Op.GT:
        return left > right
    if operator == Op.LTE:
        return left <= right
    if operator == Op.LT:
        return left < right
    return left == right


# The fact a text condition compares, by field.
TEXT_FACTS = {
    F.CHANNEL: "channel",
    F.SHIP_COUNTRY: "country",
    F.SHIP_REGION: "region",
    F.POSTCODE: "postcode",
    F.EMAIL: "email",
    F.EMAIL_DOMAIN: "email_domain",
    F.SHIPPING_METHOD: "shipping_method",
}


def condition_holds(condition: Condition, fact: Facts, today: date) -> bool:
    """Whether one condition is true of one order."""
    field, operator, value = condition.field, condition.operator, condition.value
    if field == F.FIRST_ORDER:
        return fact.first_order == (operator == Op.YES)
    if field == F.ADDRESS_FAILED:
        failed = (
            fact.status == OrderStatus.ON_HOLD
            and fact.hold_reason == HoldReason.ADDRESS_CHECK
        )
        return failed == (operator == Op.YES)
    if field == F.TOTAL:
        return _compare(operator, fact.total, value)
    if field == F.ITEM_COUNT:
        return _compare(operator, fact.items, value)
    if field == F.WEIGHT:
        return _compare(operator, fact.weight, value)
    if field == F.DELIVERY_WITHIN:
        if fact.delivery_date is None:
            return False
        within = fact.delivery_date <= today + timedelta(days=value)
        return within if operator == Op.LTE else not within
    if field in (F.SKU, F.PRODUCT_TAG, F.ORDER_TAG):
        have = {F.SKU: fact.skus, F.PRODUCT_TAG: fact.product_tags}.get(
            field, fact.tags
        )
        found = not value.isdisjoint(have)
        return found if operator == Op.CONTAINS else not found
    text = getattr(fact, TEXT_FACTS[field])
    if operator in PREFIX_OPS:
        found = text.startswith(value)
        return found if operator == Op.STARTS_WITH else not found
    if operator in LIST_OPS:
        return (text in value) == (operator == Op.IS)
    return False


def rule_matches(rule: LoadedRule, fact: Facts, today: date) -> bool:
    if not rule.conditions:
        return True
    results = (condition_holds(c, fact, today) for c in rule.conditions)
    return all(results) if rule.match_all else any(results)


def _act(action: Action, fact: Facts, applied: Applied) -> None:
    """Take one action on the facts (in memory) and say what it did."""
    kind = action.kind
    if kind == A.HOLD:
        label = HoldReason(action.value).label
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
    elif kind == A.PRIORITY:
        if fact.priority != action.value:
            fact.priority = action.value
            applied.done.append(f"priority set to {Order.Priority(action.value).label}")
            applied.data.append({"action": kind, "priority": action.value})
    elif kind == A.SHIPPING_METHOD:
        if fact.shipping_method != action.value.lower():
            fact.shipping_method = action.value.lower()
            applied.done.append(f"shipping method set to {action.value}")
            applied.data.append({"action": kind, "shipping_method": action.value})
    elif kind == A.PIN_LOCATION:
        fact.routing_pin = action.location_id
        applied.done.append(f"routed to ship from {action.location_code}")
        applied.data.append({"action": kind, "location": action.location_code})
    elif kind == A.EXCLUDE_LOCATION:
        if action.location_id not in fact.routing_exclude:
            fact.routing_exclude = (*fact.routing_exclude, action.location_id)
        applied.done.append(f"never shipped from {action.location_code}")
        applied.data.append({"action": kind, "location": action.location_code})
    elif kind == A.ADD_TAG:
        if action.value not in fact.tags:
            fact.tags.add(action.value)
            applied.done.append(f"tagged '{action.value}'")
            applied.data.append({"action": kind, "tag": action.value})
    elif kind == A.EMAIL:
        applied.done.append(f"e-mail queued to {action.value}")
        applied.data.append({"action": kind, "to": action.value})


def evaluate(
    *, rules: Sequence[LoadedRule], facts: Sequence[Facts], today: date | None = None
) -> list[Applied]:
    """Walk each order through the rules in order; return every rule that
    matched, with what it did. The facts change in memory only."""
    today = today or timezone.localdate()
    applied: list[Applied] = []
    for fact in facts:
        for rule in rules:
            if not rule_matches(rule, fact, today):
                continue
            outcome = Applied(rule=rule, order_id=fact.pk)
            for action in rule.actions:
                _act(action, fact, outcome)
            applied.append(outcome)
            if rule.stop_here:
                break
    return applied


def describe(applied: Applied) -> str:
    """The timeline's words: "Held (Fraud review) and tagged 'vip' by rule 'X'."."""
    done = applied.done or ["matched (nothing to change)"]
    text = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
    return f"{text[:1].upper()}{text[1:]} by rule '{applied.rule.name}'."
