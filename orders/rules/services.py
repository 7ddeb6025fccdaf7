"""Applying rules to orders, in bulk, and trying a rule out.

`rules_apply` is the one call every hook makes (intake from every source,
allocation, packing)::

    outcome = rules_apply(order_ids=[...], trigger=Rule.Trigger.INTAKE, actor=user)

It loads the trigger's active rules once, the orders' facts in a few
queries, evaluates in memory (`orders.rules.engine`) and writes the effects
set-based: one UPDATE per (field, value), tags and timeline rows in bulk,
field history for the changed orders, e-mails queued after commit (one per
rule and address, listing the orders). Nothing is sent in the request.

`orders.rules.preview.rule_preview` runs one rule over the last 30 days'
orders and writes nothing.
"""

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from core.bulk import copy_lines, copy_text
from core.history import history_context
from core.hooks import STAFF_EMAIL, hook_emit
from core.lookups import ids_in, lookup_chunks
from core.users import Actor
from orders import events
from orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
    OrderTag,
    OrderTagging,
    Rule,
    RuleAction,
)
from orders.rules.engine import Applied, describe, evaluate, rule_failed
from orders.rules.failures import rule_failures_note
from orders.rules.load import Facts, KnownLines, facts_load, failure_text, rules_load
from orders.sql import order_tags_insert

EMAIL_ORDERS_LISTED = 200
# The order's postage wishes a rule may set (facts and columns alike).
POSTAGE_FIELDS = ("postage_carrier", "postage_service", "rate_preference")

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass
class RulesOutcome:
    """What `rules_apply` did: the orders each rule matched, those it put on
    hold and those whose row changed (callers holding instances reload them)."""

    applied: list[Applied] = field(default_factory=list)
    held: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)

    def rules_of(self, order_id: int) -> list[str]:
        return [a.rule.name for a in self.applied if a.order_id == order_id]


def rules_exist(*, trigger: str) -> bool:
    """Whether any active rule has this trigger: one tiny query (what a hit in
    the database cache would cost), so a hot path with no such rule skips
    `rules_apply` without a savepoint, and a new rule applies at once."""
    return Rule.objects.filter(trigger=trigger, active=True).exists()


def rules_apply(
    *,
    order_ids: Sequence[int],
    trigger: str,
    actor: Actor,
    lines: KnownLines | None = None,
    unwritten: Mapping[int, dict[str, Any]] | None = None,
) -> RulesOutcome:
    """Run the trigger's active rules over these orders and write what they do.

    `lines` (order id -> [(product id, sku, quantity), ...]) saves reading the
    lines again when the caller just wrote them. `unwritten` (order id ->
    {attname: value, ..., "channel__code", "customer__email"}) are orders the
    caller writes after this call, in this transaction (an import): their
    facts come from it, and what the rules change is set in those dicts
    rather than updated, so each new row is written once, as the rules left
    it (timeline entries and tags are written here, as for any order).

    A rule that fails on an order is skipped for it and the order held "Rule
    failed" (`engine.evaluate`); should writing what the rules did fail, all
    of it is rolled back (a savepoint; `unwritten` is changed only once the
    writes are done) and each order a rule touched is held "Rule failed"
    instead, naming those rules. Either way the rules are marked failing
    once the transaction commits (`failures.rule_failures_record`): no rule
    stops intake."""
    outcome = RulesOutcome()
    order_ids = list(order_ids)
    if not order_ids:
        return outcome
    rules = rules_load(trigger=trigger)
    if not rules:
        return outcome
    facts = facts_load(
        order_ids=order_ids, rules=rules, lines=lines, unwritten=unwritten
    )
    before = _before(facts)
    applied = evaluate(rules=rules, facts=facts)
    if not applied:
        return outcome
    try:
        outcome = _write_all(
            facts=facts,
            before=before,
            applied=applied,
            actor=actor,
            unwritten=unwritten,
        )
    except Exception as error:
        logger.exception("Writing what the %s rules did failed", trigger)
        # The facts as they were: read again (the savepoint undid the writes,
        # `unwritten` was not changed).
        facts = facts_load(
            order_ids=order_ids, rules=rules, lines=lines, unwritten=unwritten
        )
        before = _before(facts)
        applied = _all_failed(applied, facts, error)
        outcome = _write_all(
            facts=facts,
            before=before,
            applied=applied,
            actor=actor,
            unwritten=unwritten,
        )
    outcome.applied = applied
    rule_failures_note(applied, trigger=trigger)
    return outcome


def _before(facts: Sequence[Facts]) -> dict[int, tuple]:
    """Each order's columns a rule may change, before the rules run."""
    return {
        f.pk: (
            f.status,
            f.priority,
            f.shipping_method,
            f.routing_pin,
            f.routing_exclude,
            f.postage_carrier,
            f.postage_service,
            f.rate_preference,
        )
        for f in facts
    }


def _write_all(
    *,
    facts: Sequence[Facts],
    before: Mapping[int, tuple],
    applied: list[Applied],
    actor: Actor,
    unwritten: Mapping[int, dict[str, Any]] | None,
) -> RulesOutcome:
    """Write what the rules did, all or nothing (a savepoint)."""
    outcome = RulesOutcome()
    # Unwritten orders get their history when the caller writes them.
    with transaction.atomic(), history_context(actor=actor, reason="rule"):
        _write(
            facts=facts,
            before=before,
            applied=applied,
            outcome=outcome,
            actor=actor,
            unwritten=unwritten or {},
        )
    return outcome


def _all_failed(
    applied: Sequence[Applied], facts: Sequence[Facts], error: Exception
) -> list[Applied]:
    """What to write when writing the rules' effects failed: each rule that
    touched an order (or failed on it) skipped, the order held "Rule failed"
    with the error, in the rules' order; nothing else."""
    text = gettext("what the rules did could not be written: %(error)s") % {
        "error": failure_text(error)
    }
    by_pk = {fact.pk: fact for fact in facts}
    failed = []
    for a in applied:
        fact = by_pk.get(a.order_id)
        if fact is not None:
            failed.append(rule_failed(a.rule, fact, text))
    return failed


def _write(*, facts, before, applied, outcome, actor, unwritten) -> None:
    """Write the effects set-based. `unwritten` rows are changed last, once
    every statement went through, so a failed write leaves them as given."""
    now = timezone.now()
    row_changes: list[tuple[dict[str, Any], dict[str, Any]]] = []
    holds: dict[tuple[str, str], list[int]] = defaultdict(list)
    updates: dict[tuple[str, object], list[int]] = defaultdict(list)
    methods: dict[int, str] = {}
    # The orders an action may have changed a column of (tags and e-mails
    # change none): only their facts are compared with before.
    touched: set[int] = set()
    for applied_rule in applied:
        for data in applied_rule.data:
            if data["action"] == RuleAction.Kind.HOLD:
                holds[data["from"], data["reason"]].append(applied_rule.order_id)
            elif data["action"] == RuleAction.Kind.SHIPPING_METHOD:
                methods[applied_rule.order_id] = data["shipping_method"]
            if data["action"] not in (RuleAction.Kind.ADD_TAG, RuleAction.Kind.EMAIL):
                touched.add(applied_rule.order_id)
    for fact in facts:
        if fact.pk not in touched:
            continue
        status, priority, method, pin, exclude, *postage = before[fact.pk]
        if fact.priority != priority:
            updates["priority", fact.priority].append(fact.pk)
        if fact.pk in methods and fact.shipping_method != method:
            updates["shipping_method", methods[fact.pk]].append(fact.pk)
        if fact.routing_pin != pin:
            updates["routing_pin_id", fact.routing_pin].append(fact.pk)
        if fact.routing_exclude != exclude:
            updates["routing_exclude", fact.routing_exclude].append(fact.pk)
        for name, was in zip(POSTAGE_FIELDS, postage, strict=True):
            if getattr(fact, name) != was:
                updates[name, getattr(fact, name)].append(fact.pk)
    for (source, reason), pks in holds.items():
        stored = []
        for pk in pks:
            row = unwritten.get(pk)
            if row is None:
                stored.append(pk)
            elif row["status"] == source:
                row_changes.append(
                    (
                        row,
                        {
                            "status": OrderStatus.ON_HOLD,
                            "hold_reason": reason,
                            "held_from": source,
                        },
                    )
                )
                outcome.held.add(pk)
        if not stored:
            continue
        Order.objects.filter(ids_in("pk", stored), status=source).update(
            status=OrderStatus.ON_HOLD,
            hold_reason=reason,
            held_from=source,
            updated_at=now,
            version=F("version") + 1,
        )
        outcome.held.update(stored)
    for (name, value), pks in updates.items():
        stored = list(value) if name == "routing_exclude" else value
        for pk in pks:
            if pk in unwritten:
                row_changes.append((unwritten[pk], {name: stored}))
        for chunk in lookup_chunks([pk for pk in pks if pk not in unwritten]):
            Order.objects.filter(ids_in("pk", chunk)).update(
                **{name: stored}, updated_at=now, version=F("version") + 1
            )
    outcome.changed = outcome.held | {pk for pks in updates.values() for pk in pks}
    _tags_add(applied, unwritten=unwritten)
    user_id = actor.pk if actor is not None and actor.is_authenticated else None
    _timeline_insert(applied, user_id=user_id)
    _emails_queue(applied, facts)
    for row, changes in row_changes:
        row.update(changes)


# The timeline's columns `_timeline_insert` writes itself: all of
# `OrderEvent`'s but its id (should it gain one, `bulk_insert` writes).
TIMELINE_COLUMNS = ("order_id", "kind", "message", "data", "user_id", "created_at")


def _timeline_insert(applied: Sequence[Applied], *, user_id: int | None) -> None:
    """One timeline entry per applied (or failed) rule. An import applies each
    rule to thousands of orders alike: each distinct entry is worked out once
    and its columns are put in COPY's text form once too, so each row costs
    one short line ("<order id><the entry's columns>")."""
    own = {f.attname for f in OrderEvent._meta.concrete_fields if not f.primary_key}
    if own != set(TIMELINE_COLUMNS):
        entry = _timeline_entry_memo(
            lambda kind, message, data: {"kind": kind, "message": message, "data": data}
        )
        events.order_events_insert(
            {"order_id": a.order_id, "user_id": user_id, **entry(a)} for a in applied
        )
        return
    fixed = (
        "\\N" if user_id is None else str(user_id),
        timezone.now().isoformat(),
    )
    entry = _timeline_entry_memo(
        lambda kind, message, data: (
            "\t"
            + "\t".join(
                [
                    copy_text(kind),
                    copy_text(message),
                    copy_text(json.dumps(data)),
                    *fixed,
                ]
            )
            + "\n"
        )
    )
    copy_lines(
        OrderEvent, TIMELINE_COLUMNS, (f"{a.order_id}{entry(a)}" for a in applied)
    )


def _timeline_entry_memo(
    render: Callable[[str, str, dict], T],
) -> Callable[[Applied], T]:
    """`render(kind, message, data)` of an applied rule's timeline entry,
    worked out once for every order the rule did the same to."""
    seen: dict[tuple, T] = {}

    def entry(a: Applied) -> T:
        try:
            # The rule and what it did: each data dict starts with its action
            # and has that action's keys, so their values in a row tell them.
            key = (
                a.rule.pk,
                a.failed,
                tuple(a.done),
                *[value for data in a.data for value in data.values()],
            )
            found = seen.get(key)
        except TypeError:  # a value that cannot be a key: nothing shared
            key, found = None, None
        if found is None:
            data = {"rule": a.rule.pk, "rule_name": a.rule.name, "actions": a.data}
            if a.failed:
                data["failed"] = a.failed
            found = render(
                OrderEvent.Kind.RULE_FAILED if a.failed else OrderEvent.Kind.RULE,
                describe(a),
                data,
            )
            if key is not None:
                seen[key] = found
        return found

    return entry


def _tags_add(applied: Sequence[Applied], *, unwritten: Mapping | None = None) -> None:
    wanted = [
        (a.order_id, data["tag"])
        for a in applied
        for data in a.data
        if data["action"] == RuleAction.Kind.ADD_TAG
    ]
    if not wanted:
        return
    names = {name for _, name in wanted}
    OrderTag.objects.bulk_create(
        [OrderTag(name=name) for name in sorted(names)], ignore_conflicts=True
    )
    ids = dict(OrderTag.objects.filter(name__in=names).values_list("name", "pk"))
    if unwritten and all(order_id in unwritten for order_id, _ in wanted):
        # Orders not written yet have no tags to clash with: COPY each pair once.
        copy_lines(
            OrderTagging,
            ("order_id", "ordertag_id"),
            (
                f"{order_id}\t{tag_id}\n"
                for order_id, tag_id in dict.fromkeys(
                    (order_id, ids[name]) for order_id, name in wanted
                )
            ),
        )
        return
    # One statement for every (order, tag), without building a model instance
    # per row; a pair another transaction added is skipped.
    order_tags_insert(
        order_ids=[order_id for order_id, _ in wanted],
        tag_ids=[ids[name] for _, name in wanted],
    )


def _emails_queue(applied: Sequence[Applied], facts) -> None:
    """One e-mail per (rule, address), listing its orders, sent after commit."""
    numbers = {fact.pk: fact.number for fact in facts}
    batches: dict[tuple[str, str], list[str]] = defaultdict(list)
    notes: dict[tuple[str, str], str] = {}
    for a in applied:
        if a.failed:
            continue
        for action in a.rule.actions:
            if action.kind == RuleAction.Kind.EMAIL:
                key = (a.rule.name, action.value)
                batches[key].append(numbers[a.order_id])
                notes[key] = action.note
    for (rule_name, address), order_numbers in batches.items():
        listed = order_numbers[:EMAIL_ORDERS_LISTED]
        more = len(order_numbers) - len(listed)
        body = "\n".join(
            [
                notes[rule_name, address]
                or f"Rule '{rule_name}' matched these orders.",
                "",
                *listed,
                *([f"… and {more} more."] if more else []),
            ]
        )
        subject = (
            f"Rule '{rule_name}': order {order_numbers[0]}"
            if len(order_numbers) == 1
            else f"Rule '{rule_name}': {len(order_numbers)} orders"
        )
        # An outbox message (connections), sent after commit by its engine.
        hook_emit(STAFF_EMAIL, to=address, subject=subject, body=body)
