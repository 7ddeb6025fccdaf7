"""Trying a rule on the last 30 days' orders, changing nothing.

`rule_preview` runs one rule alone (as if it were first) over the orders
placed in the last 30 days and says which it would match and what it would
do to each, and on which it would fail and why: a failing rule is shown,
never a crash. An intake rule judges each order as it came in (pending, or
held for what its intake found), not as it is today.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from core.lookups import any_of, lookup_chunks
from orders.models import (
    HoldReason,
    Order,
    OrderEvent,
    OrderStatus,
    Rule,
    RuleAction,
)
from orders.rules.engine import Applied, describe, evaluate
from orders.rules.load import Facts, facts_load, failure_text, rules_load

# Orders a preview looks at, newest first: enough for a month of a busy shop,
# bounded so the page answers in well under a second.
PREVIEW_LIMIT = 5000
PREVIEW_DAYS = 30
# Orders named for each way the rule failed.
FAILED_NUMBERS_SHOWN = 5


@dataclass(frozen=True)
class PreviewRow:
    order_id: int
    number: str
    placed_at: object
    status: str
    would: str


@dataclass(frozen=True)
class PreviewFailure:
    """One way the rule failed: the error, on how many orders, a few of them."""

    error: str
    orders: int
    numbers: list[str]


@dataclass(frozen=True)
class Preview:
    looked_at: int
    matched: int
    rows: list[PreviewRow]
    limited: bool
    failed: int = 0
    failures: list[PreviewFailure] = field(default_factory=list)


def rule_preview(*, rule: Rule, shown: int = 100) -> Preview:
    """Which of the last 30 days' orders the rule would match and what it
    would do, the rule alone (as if first), changing nothing; and the orders
    it would fail on (at intake: skipped for them, and held "Rule failed")."""
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
    try:
        facts = facts_load(order_ids=ids, rules=loaded)
        if rule.trigger == Rule.Trigger.INTAKE:
            facts_as_at_intake(facts)
        applied = evaluate(rules=loaded, facts=facts)
    except DatabaseError:
        raise  # the transaction cannot go on: the page's error
    except Exception as error:  # what the engine itself did not catch
        return Preview(
            looked_at=len(ids),
            matched=0,
            rows=[],
            limited=limited,
            failed=len(ids),
            failures=[PreviewFailure(failure_text(error), len(ids), [])],
        )
    info = {fact.pk: fact for fact in facts}
    matched = [a for a in applied if not a.failed]
    placed = dict(
        Order.objects.filter(
            any_of("pk", [a.order_id for a in matched[:shown]])
        ).values_list("pk", "placed_at")
    )
    statuses = dict(OrderStatus.choices)
    return Preview(
        looked_at=len(ids),
        matched=len(matched),
        rows=[
            PreviewRow(
                order_id=a.order_id,
                number=info[a.order_id].number,
                placed_at=placed.get(a.order_id),
                status=str(statuses.get(status := before_status(a, info), status)),
                would=describe(a),
            )
            for a in matched[:shown]
        ],
        limited=limited,
        failed=len(applied) - len(matched),
        failures=_failures(applied, info),
    )


# The holds an order can arrive with, before any rule runs (`orders.intake`).
INTAKE_HOLDS = (HoldReason.TOTALS_DIFFER, HoldReason.ADDRESS_CHECK, HoldReason.PAYMENT)


def facts_as_at_intake(facts: list[Facts]) -> None:
    """Set each order's status back to what it was when it came in, as an
    intake rule saw it: pending, or on hold for what its intake found (its
    first hold taken while pending, for an intake reason, on its timeline)."""
    held: dict[int, str] = {}
    for chunk in lookup_chunks([fact.pk for fact in facts]):
        events = (
            OrderEvent.objects.filter(
                order_id__in=chunk,
                kind=OrderEvent.Kind.HELD,
                data__from=OrderStatus.PENDING,
                data__reason__in=INTAKE_HOLDS,
            )
            .order_by("order_id", "created_at", "pk")
            .values_list("order_id", "data__reason")
        )
        for order_id, reason in events:
            held.setdefault(order_id, reason)
    for fact in facts:
        fact.status = OrderStatus.ON_HOLD if fact.pk in held else OrderStatus.PENDING
        fact.hold_reason = held.get(fact.pk, "")


def _failures(applied: list[Applied], info) -> list[PreviewFailure]:
    """The ways the rule failed, the most frequent first."""
    counts = Counter(a.failed for a in applied if a.failed)
    numbers: dict[str, list[str]] = {error: [] for error in counts}
    for a in applied:
        if a.failed and len(numbers[a.failed]) < FAILED_NUMBERS_SHOWN:
            numbers[a.failed].append(info[a.order_id].number)
    return [
        PreviewFailure(error, count, numbers[error])
        for error, count in counts.most_common()
    ]


def before_status(applied: Applied, info) -> str:
    """The order's status before the preview's in-memory actions."""
    for data in applied.data:
        if data["action"] == RuleAction.Kind.HOLD:
            return data["from"]
    return info[applied.order_id].status
