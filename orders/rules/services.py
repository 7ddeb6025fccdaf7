"""Applying rules to orders, in bulk, and trying a rule out.

`rules_apply` is the one call every hook makes (intake from every source,
allocation, packing)::

    outcome = rules_apply(order_ids=[...], trigger=Rule.Trigger.INTAKE, actor=user)

It loads the trigger's active rules once, the orders' facts in a few
queries, evaluates in memory (`orders.rules.engine`) and writes the effects
set-based: one UPDATE per (field, value), tags and timeline rows in bulk,
field history for the changed orders, e-mails queued after commit (one per
rule and address, listing the orders). Nothing is sent in the request.

`rule_preview` runs one rule over the last 30 days' orders and writes nothing.
"""

import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from core.bulk import copy_lines, copy_text
from core.history import history_context
from core.lookups import any_of, ids_in, lookup_chunks
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
from orders.rules.engine import Applied, describe, evaluate
from orders.rules.load import KnownLines, facts_load, rules_load
from orders.sql import order_tags_insert

# Orders a preview looks at, newest first: enough for a month of a busy shop,
# bounded so the page answers in well under a second.
PREVIEW_LIMIT = 5000
PREVIEW_DAYS = 30
EMAIL_ORDERS_LISTED = 200
# The order's postage wishes a rule may set (facts and columns alike).
POSTAGE_FIELDS = ("postage_carrier", "postage_service", "rate_preference")

T = TypeVar("T")


@dataclass
class RulesOutcome:
    """What `rules_apply` did: the orders each rule matched, those it put on
    hold and those whose row changed (callers holding instances reload them)."""

    applied: list[Applied] = field(default_factory=list)
    held: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)

    def rules_of(self, order_id: int) -> list[str]:
        return [a.rule.name for a in self.applied if a.order_id == order_id]


# trigger -> (read at, monotonic seconds; any active rule?), per process.
_TRIGGERS_SEEN: dict[str, tuple[float, bool]] = {}


def rules_exist(*, trigger: str) -> bool:
    """Whether any active rule has this trigger: one tiny query, remembered
    per process for `OMS_RULES_CACHE_SECONDS` (0 under pytest), so a hot path
    with no such rule skips `rules_apply` without a query or a savepoint."""
    ttl = settings.OMS_RULES_CACHE_SECONDS
    now = time.monotonic()
    seen = _TRIGGERS_SEEN.get(trigger)
    if seen is not None and now - seen[0] < ttl:
        return seen[1]
    exists = Rule.objects.filter(trigger=trigger, active=True).exists()
    if ttl > 0:
        _TRIGGERS_SEEN[trigger] = (now, exists)
    return exists


def rules_exist_forget() -> None:
    """Forget what `rules_exist` remembered, in this process (a test's
    clock, or a rule saved here that must apply at once)."""
    _TRIGGERS_SEEN.clear()


@transaction.atomic
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
    it (timeline entries and tags are written here, as for any order)."""
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
    before = {
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
    original_method = {f.pk: f.shipping_method for f in facts}
    applied = evaluate(rules=rules, facts=facts)
    if not applied:
        return outcome
    outcome.applied = applied
    # Unwritten orders get their history when the caller writes them.
    with history_context(actor=actor, reason="rule"):
        _write(
            facts=facts,
            before=before,
            original_method=original_method,
            applied=applied,
            outcome=outcome,
            actor=actor,
            unwritten=unwritten or {},
        )
    return outcome


def _write(
    *, facts, before, original_method, applied, outcome, actor, unwritten
) -> None:
    now = timezone.now()
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
        status, priority, _method, pin, exclude, *postage = before[fact.pk]
        if fact.priority != priority:
            updates["priority", fact.priority].append(fact.pk)
        if fact.pk in methods and fact.shipping_method != original_method[fact.pk]:
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
                row.update(
                    status=OrderStatus.ON_HOLD, hold_reason=reason, held_from=source
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
                unwritten[pk][name] = stored
        for chunk in lookup_chunks([pk for pk in pks if pk not in unwritten]):
            Order.objects.filter(ids_in("pk", chunk)).update(
                **{name: stored}, updated_at=now, version=F("version") + 1
            )
    outcome.changed = outcome.held | {pk for pks in updates.values() for pk in pks}
    _tags_add(applied, unwritten=unwritten)
    user_id = actor.pk if actor is not None and actor.is_authenticated else None
    _timeline_insert(applied, user_id=user_id)
    _emails_queue(applied, facts)


# The timeline's columns `_timeline_insert` writes itself: all of
# `OrderEvent`'s but its id (should it gain one, `bulk_insert` writes).
TIMELINE_COLUMNS = ("order_id", "kind", "message", "data", "user_id", "created_at")


def _timeline_insert(applied: Sequence[Applied], *, user_id: int | None) -> None:
    """One timeline entry per applied rule. An import applies each rule to
    thousands of orders alike: each distinct entry is worked out once and its
    columns are put in COPY's text form once too, so each row costs one
    short line ("<order id><the entry's columns>")."""
    kind = OrderEvent.Kind.RULE
    own = {f.attname for f in OrderEvent._meta.concrete_fields if not f.primary_key}
    if own != set(TIMELINE_COLUMNS):
        entry = _timeline_entry_memo(
            lambda message, data: {"message": message, "data": data}
        )
        events.order_events_insert(
            {"order_id": a.order_id, "kind": kind, "user_id": user_id, **entry(a)}
            for a in applied
        )
        return
    fixed = (
        "\\N" if user_id is None else str(user_id),
        timezone.now().isoformat(),
    )
    entry = _timeline_entry_memo(
        lambda message, data: (
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


def _timeline_entry_memo(render: Callable[[str, dict], T]) -> Callable[[Applied], T]:
    """`render(message, data)` of an applied rule's timeline entry, worked out
    once for every order the rule did the same to."""
    seen: dict[tuple, T] = {}

    def entry(a: Applied) -> T:
        try:
            # The rule and what it did: each data dict starts with its action
            # and has that action's keys, so their values in a row tell them.
            key = (
                a.rule.pk,
                tuple(a.done),
                *[value for data in a.data for value in data.values()],
            )
            found = seen.get(key)
        except TypeError:  # a value that cannot be a key: nothing shared
            key, found = None, None
        if found is None:
            found = render(
                describe(a),
                {"rule": a.rule.pk, "rule_name": a.rule.name, "actions": a.data},
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
        transaction.on_commit(
            lambda subject=subject, body=body, address=address: (
                rule_email_send_task.enqueue(to=address, subject=subject, body=body)
            )
        )


@task()
def rule_email_send_task(to: str, subject: str, body: str) -> int:
    """Send a rule's e-mail (the connection's timeout is EMAIL_TIMEOUT)."""
    return send_mail(
        subject=subject,
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[to],
    )


@dataclass(frozen=True)
class PreviewRow:
    order_id: int
    number: str
    placed_at: object
    status: str
    would: str


@dataclass(frozen=True)
class Preview:
    looked_at: int
    matched: int
    rows: list[PreviewRow]
    limited: bool


def rule_preview(*, rule: Rule, shown: int = 100) -> Preview:
    """Which of the last 30 days' orders the rule would match and what it
    would do, the rule alone (as if first), changing nothing."""
    since = timezone.now() - timedelta(days=PREVIEW_DAYS)
    ids = list(
        Order.objects.filter(placed_at__gte=since)
        .order_by("-placed_at", "-pk")
        .values_list("pk", flat=True)[: PREVIEW_LIMIT + 1]
    )
    limited = len(ids) > PREVIEW_LIMIT
    ids = ids[:PREVIEW_LIMIT]
    loaded = rules_load(trigger=rule.trigger, rule_ids=[rule.pk])
    if not loaded or not ids:
        return Preview(looked_at=len(ids), matched=0, rows=[], limited=limited)
    facts = facts_load(order_ids=ids, rules=loaded)
    applied = evaluate(rules=loaded, facts=facts)
    info = {fact.pk: fact for fact in facts}
    placed = dict(
        Order.objects.filter(
            any_of("pk", [a.order_id for a in applied[:shown]])
        ).values_list("pk", "placed_at")
    )
    return Preview(
        looked_at=len(ids),
        matched=len(applied),
        rows=[
            PreviewRow(
                order_id=a.order_id,
                number=info[a.order_id].number,
                placed_at=placed.get(a.order_id),
                status=OrderStatus(before_status(a, info)).label,
                would=describe(a),
            )
            for a in applied[:shown]
        ],
        limited=limited,
    )


def before_status(applied: Applied, info) -> str:
    """The order's status before the preview's in-memory actions."""
    for data in applied.data:
        if data["action"] == RuleAction.Kind.HOLD:
            return data["from"]
    return info[applied.order_id].status
