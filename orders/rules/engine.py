"""Evaluating rules against many orders in memory.

`rules_load` reads the active rules of one trigger (three queries);
`facts_load` reads what those rules look at for a batch of orders in a few
set-based queries (the orders, and only when a rule needs them: their lines,
products, tags, the customers' first orders); `evaluate` runs the rules in
order, each over all the orders at once (as if each order walked through
them), and returns what each matching rule does, without touching the
database. `orders.rules.services` writes the effects in bulk.
"""

import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Min
from django.utils import timezone

from core.lookups import any_of, ids_in, lookup_chunks
from inventory.models import Product
from orders.models import (
    HOLDABLE,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    RatePreference,
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


@dataclass(slots=True)
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
    postage_carrier: str = ""
    postage_service: str = ""
    rate_preference: str = ""
    items: int = 0
    weight: int = 0
    skus: frozenset[str] = frozenset()
    product_tags: frozenset[str] = frozenset()
    first_order: bool = False
    tags: set[str] = field(default_factory=set)

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(slots=True)
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


# An order's lines as a caller that just wrote them knows them:
# order id -> [(product id, sku, quantity), ...].
KnownLines = Mapping[int, Sequence[tuple[int | None, str, int]]]


# The order's columns the facts are made of, as `values_list` names them.
ORDER_FACT_COLUMNS = (
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
    "postage_carrier",
    "postage_service",
    "rate_preference",
)


def _unwritten_rows(
    pks: Sequence[int], unwritten: Mapping[int, Mapping[str, Any]]
) -> Iterator[tuple]:
    """Orders not written yet, each given as {attname: value} plus its
    "channel__code" and "customer__email", as rows in `ORDER_FACT_COLUMNS`
    order; columns one leaves out have the field's default."""
    fields = _order_fields()
    names = ORDER_FACT_COLUMNS[1:]
    defaults = [
        fields[name].get_default() if name in fields else None for name in names
    ]
    for pk in pks:
        yield (pk, *map(unwritten[pk].get, names, defaults))


class _Memo(dict):
    """`normalise(value)` as `memo[value]`, worked out once per distinct
    value (a hit is a plain dict lookup, no call)."""

    def __init__(self, normalise: Callable[[Any], Any]) -> None:
        super().__init__()
        self.normalise = normalise

    def __missing__(self, value: Any) -> Any:
        found = self[value] = self.normalise(value)
        return found


@functools.cache
def _order_fields() -> dict[str, Any]:
    return {field.attname: field for field in Order._meta.concrete_fields}


def facts_load(
    *,
    order_ids: Sequence[int],
    rules: Sequence[LoadedRule],
    lines: KnownLines | None = None,
    unwritten: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Facts]:
    """The facts of these orders the rules need, in a few set-based queries.

    `lines` are the orders' lines when the caller has them in memory (the
    import that just wrote them): they are not read again; an order missing
    from it has its lines read. `unwritten` are orders the caller has not
    written yet (an import applying its rules before the rows go in, see
    `_unwritten_rows`): they are taken from it, never read; give their lines
    too."""
    needed = _needs(rules)
    unwritten = unwritten or {}
    facts: dict[int, Facts] = {}
    # Many orders share a channel, country, region or shipping method: each
    # distinct value is normalised once.
    channels = _Memo(str.lower)
    countries = _Memo(lambda country: str(country).upper())
    regions = _Memo(lambda region: region.strip().lower())
    methods = _Memo(lambda method: method.strip().lower())
    customer_of: dict[int, int] = {}
    for chunk in lookup_chunks(list(order_ids)):
        rows = (
            # Joined on the ids: see `core.lookups.IdsIn`.
            Order.objects.filter(
                ids_in("pk", [pk for pk in chunk if pk not in unwritten])
            )
            .order_by()
            .values_list(*ORDER_FACT_COLUMNS)
        )
        if unwritten:
            rows = [
                *rows,
                *_unwritten_rows([pk for pk in chunk if pk in unwritten], unwritten),
            ]
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
            postage_carrier,
            postage_service,
            rate_preference,
        ) in rows:
            customer_of[pk] = customer_id
            facts[pk] = Facts(
                pk,
                number,
                status,
                hold_reason,
                channels[channel],
                countries[country],
                regions[region],
                postcode.replace(" ", "").upper(),
                total,
                email.lower(),
                methods[method],
                delivery,
                priority,
                pin,
                tuple(exclude) if exclude else (),
                postage_carrier,
                postage_service,
                rate_preference,
            )
    ids = list(facts)
    if needed & LINE_FIELDS:
        # order id -> [(product id, sku, quantity), ...]: as given, else read.
        known = lines or {}
        lines_of: dict[int, Sequence[Sequence]] = {
            order_id: known[order_id] for order_id in ids if order_id in known
        }
        unknown = [order_id for order_id in ids if order_id not in known]
        for order_id in unknown:
            lines_of[order_id] = []
        for chunk in lookup_chunks(unknown):
            for order_id, *line in (
                OrderLine.objects.filter(any_of("order__id", chunk))
                .order_by()
                .values_list("order_id", "product_id", "sku", "quantity")
            ):
                lines_of[order_id].append(line)
        products: dict[int, tuple[int, frozenset[str]]] = {}
        if needed & {F.WEIGHT, F.PRODUCT_TAG}:
            product_ids = list(
                {line[0] for found in lines_of.values() for line in found} - {None}
            )
            for chunk in lookup_chunks(product_ids):
                for pk, weight, tags in Product.objects.filter(
                    any_of("pk", chunk)
                ).values_list("pk", "weight_g", "tags"):
                    words = frozenset(
                        t.strip().lower() for t in tags.split(",") if t.strip()
                    )
                    products[pk] = (weight, words)
        unknown_product = (0, frozenset())
        # (product id, sku) -> (lowered sku, grams, tags), once per pair.
        seen: dict[tuple, tuple[str, int, frozenset[str]]] = {}
        # One pass per order, its sums kept in locals.
        for order_id, fact in facts.items():
            items = weight = 0
            skus: set[str] = set()
            tags: set[str] = set()
            for product_id, sku, quantity in lines_of[order_id]:
                known_line = seen.get((product_id, sku))
                if known_line is None:
                    known_line = seen[product_id, sku] = (
                        sku.lower(),
                        *products.get(product_id, unknown_product),
                    )
                lowered, grams, words = known_line
                items += quantity
                skus.add(lowered)
                weight += grams * quantity
                if words:
                    tags.update(words)
            fact.items, fact.weight = items, weight
            fact.skus, fact.product_tags = frozenset(skus), frozenset(tags)
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
        # Orders not written yet count too: the lowest id is the first order.
        for pk in unwritten:
            customer = customer_of.get(pk)
            if pk in facts and (customer not in first or pk < first[customer]):
                first[customer] = pk
        for pk, fact in facts.items():
            fact.first_order = first.get(customer_of[pk]) == pk
    if F.ORDER_TAG in needed:
        through = Order.tags.through
        # Orders not written yet have no tags to read.
        for chunk in lookup_chunks([pk for pk in ids if pk not in unwritten]):
            for order_id, name in (
                through.objects.filter(any_of("order__id", chunk))
                .order_by()
                .values_list("order_id", "ordertag__name")
            ):
                facts[order_id].tags.add(name)
    return [facts[pk] for pk in order_ids if pk in facts]


# The comparison each number operator makes (anything else is equality).
COMPARE = {
    Op.GTE: operator.ge,
    Op.GT: operator.gt,
    Op.LTE: operator.le,
    Op.LT: operator.lt,
}

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
NUMBER_FACTS = {F.TOTAL: "total", F.ITEM_COUNT: "items", F.WEIGHT: "weight"}
SET_FACTS = {F.SKU: "skus", F.PRODUCT_TAG: "product_tags", F.ORDER_TAG: "tags"}

Test = Callable[[Facts], bool]


def _never(fact: Facts) -> bool:
    return False


def condition_compile(condition: Condition, today: date) -> Test:
    """One condition as a plain function of an order's facts: the field, the
    operator and the value are looked at once here, not once per order."""
    field, op, value = condition.field, condition.operator, condition.value
    if field == F.FIRST_ORDER:
        wanted = op == Op.YES
        return lambda fact: fact.first_order == wanted
    if field == F.ADDRESS_FAILED:
        wanted = op == Op.YES
        on_hold, reason = OrderStatus.ON_HOLD, HoldReason.ADDRESS_CHECK
        return lambda fact: (
            (fact.status == on_hold and fact.hold_reason == reason) == wanted
        )
    if field in NUMBER_FACTS:
        get = operator.attrgetter(NUMBER_FACTS[field])
        compare = COMPARE.get(op, operator.eq)
        return lambda fact: compare(get(fact), value)
    if field == F.DELIVERY_WITHIN:
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
    if kind == A.HOLD:
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
    elif kind == A.POSTAGE_SERVICE:
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
    elif kind == A.RATE_PREFERENCE:
        if fact.rate_preference != action.value:
            fact.rate_preference = action.value
            label = RatePreference(action.value).label
            applied.done.append(f"postage rate preference set to {label}")
            applied.data.append({"action": kind, "rate_preference": action.value})
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


Effect = Callable[[Facts, Applied], None]


def action_compile(action: Action) -> Effect:
    """One action as a plain function of (facts, outcome), its words worked
    out once; the same as `_act`."""
    kind, value = action.kind, action.value
    if kind == A.PRIORITY:
        said = f"priority set to {Order.Priority(value).label}"

        def effect(fact: Facts, applied: Applied) -> None:
            if fact.priority != value:
                fact.priority = value
                applied.done.append(said)
                applied.data.append({"action": kind, "priority": value})

        return effect
    if kind == A.ADD_TAG:
        said = f"tagged '{value}'"

        def effect(fact: Facts, applied: Applied) -> None:
            if value not in fact.tags:
                fact.tags.add(value)
                applied.done.append(said)
                applied.data.append({"action": kind, "tag": value})

        return effect
    if kind == A.SHIPPING_METHOD:
        said, lowered = f"shipping method set to {value}", value.lower()

        def effect(fact: Facts, applied: Applied) -> None:
            if fact.shipping_method != lowered:
                fact.shipping_method = lowered
                applied.done.append(said)
                applied.data.append({"action": kind, "shipping_method": value})

        return effect
    return lambda fact, applied: _act(action, fact, applied)


def evaluate(
    *, rules: Sequence[LoadedRule], facts: Sequence[Facts], today: date | None = None
) -> list[Applied]:
    """Walk each order through the rules in order; return every rule that
    matched, with what it did (rule by rule: each order's in the rules'
    order). The facts change in memory only.

    Each rule is compiled once into a plain function of the facts and run
    over all the orders still in play at once (`filter`): a rule sees each
    order as the rules before it left it, as if the orders went through the
    rules one by one, at one call per (order, rule) and nothing else for a
    rule that does not match."""
    today = today or timezone.localdate()
    applied: list[Applied] = []
    add = applied.append
    live = list(facts)
    for rule in rules:
        effects = tuple(action_compile(action) for action in rule.actions)
        matched = list(filter(rule_compile(rule, today), live))
        for fact in matched:
            outcome = Applied(rule, fact.pk)
            for effect in effects:
                effect(fact, outcome)
            add(outcome)
        if rule.stop_here and matched:
            stopped = set(map(id, matched))
            live = [fact for fact in live if id(fact) not in stopped]
    return applied


def describe(applied: Applied) -> str:
    """The timeline's words: "Held (Fraud review) and tagged 'vip' by rule 'X'."."""
    done = applied.done or ["matched (nothing to change)"]
    text = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
    return f"{text[:1].upper()}{text[1:]} by rule '{applied.rule.name}'."
