"""Reading what rules need, for many orders at once.

`rules_load` reads the active rules of one trigger (three queries);
`facts_load` reads what those rules look at for a batch of orders in a few
set-based queries (the orders, and only when a rule needs them: their lines,
products, tags, the customers' first orders). `orders.rules.engine`
evaluates them in memory.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Min

from core.lookups import any_of, ids_in, lookup_chunks
from inventory.models import Product
from orders.models import (
    Order,
    OrderLine,
    Rule,
    RuleAction,
    RuleCondition,
)
from orders.rules.schema import (
    Action,
    Condition,
    RuleSchemaError,
    action_parse,
    condition_parse,
)

LINE_FIELDS = {
    RuleCondition.Field.ITEM_COUNT,
    RuleCondition.Field.WEIGHT,
    RuleCondition.Field.SKU,
    RuleCondition.Field.PRODUCT_TAG,
}


@dataclass(frozen=True)
class LoadedRule:
    pk: int
    name: str
    match_all: bool
    stop_here: bool
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    # Why the stored rule cannot run (a value past the schema's bounds, written
    # before the bounds or straight to the table): it fails on every order.
    error: str = ""
    # As read: a failure is recorded on this version of the rule only.
    updated_at: datetime | None = None


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


# A failure's words are kept short enough for the rule's `failure` column.
FAILURE_TEXT_MAX = 400


def failure_text(error: BaseException) -> str:
    """A rule's failure in words: a refused value's own message, otherwise
    the error's kind and message ("OverflowError: date value out of range")."""
    if isinstance(error, RuleSchemaError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}".rstrip(": ")
    if len(text) > FAILURE_TEXT_MAX:
        text = text[: FAILURE_TEXT_MAX - 1] + "…"
    return text


def rules_load(
    *, trigger: str, rule_ids: Sequence[int] | None = None
) -> list[LoadedRule]:
    """The active rules of a trigger, in order, parsed (or the given rules,
    active or not, for a preview). A rule whose stored parts no longer pass
    the checks is never run half: it comes with its `error` and no
    conditions or actions, and `engine.evaluate` fails it on every order."""
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
        error = ""
        try:
            parsed_conditions = tuple(
                condition_parse(field=c.field, operator=c.operator, value=c.value)
                for c in conditions[rule.pk]
            )
            parsed_actions = tuple(
                action_parse(
                    kind=a.kind,
                    value=a.value,
                    note=a.note,
                    location_id=a.location_id,
                    location_code=a.location.code if a.location else "",
                )
                for a in actions[rule.pk]
            )
        except Exception as refused:  # any stored row, any fault: the rule fails
            parsed_conditions, parsed_actions = (), ()
            error = failure_text(refused)
        loaded.append(
            LoadedRule(
                pk=rule.pk,
                name=rule.name,
                match_all=rule.match == Rule.Match.ALL,
                stop_here=rule.stop_here,
                conditions=parsed_conditions,
                actions=parsed_actions,
                error=error,
                updated_at=rule.updated_at,
            )
        )
    return loaded


def _needs(rules: Sequence[LoadedRule]) -> set[str]:
    needed = {c.field for rule in rules for c in rule.conditions}
    if any(a.kind == RuleAction.Kind.ADD_TAG for rule in rules for a in rule.actions):
        needed.add(RuleCondition.Field.ORDER_TAG)
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
        if needed & {RuleCondition.Field.WEIGHT, RuleCondition.Field.PRODUCT_TAG}:
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
    if RuleCondition.Field.FIRST_ORDER in needed:
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
    if RuleCondition.Field.ORDER_TAG in needed:
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
