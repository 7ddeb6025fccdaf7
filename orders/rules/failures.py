"""Rules that failed on an order: marked failing, shown, cleared when fixed.

`engine.evaluate` skips a rule for an order it fails on and holds the order
"Rule failed"; `rule_failures_note` (called by `services.rules_apply`)
marks those rules failing once the transaction that held the orders
commits, each in one short statement of its own: intake never waits on a
rule's row, and a manager saving the rule meanwhile is never blocked for
the length of an import. `rule_failure_clear` clears the mark when the rule
is saved again.
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from orders.models import Rule
from orders.rules.engine import Applied

logger = logging.getLogger(__name__)


def rule_failures_note(applied: Sequence[Applied], *, trigger: str) -> None:
    """Log the rules that failed among `applied` and mark them failing after
    the commit (nothing is marked if the transaction rolls back: nor were
    its orders held)."""
    failures: dict[int, tuple[str, datetime | None]] = {}
    counts: dict[int, int] = {}
    names: dict[int, str] = {}
    for a in applied:
        if not a.failed:
            continue
        pk = a.rule.pk
        if pk not in failures:
            failures[pk] = (a.failed, a.rule.updated_at)
            names[pk] = a.rule.name
            counts[pk] = 0
        counts[pk] += 1
    if not failures:
        return
    for pk, (error, _updated_at) in failures.items():
        logger.warning(
            "Rule %r (%s, when %s) failed on %d order(s), which were held "
            "'Rule failed': %s",
            names[pk],
            pk,
            trigger,
            counts[pk],
            error,
        )
    transaction.on_commit(partial(rule_failures_record, failures=failures))


def rule_failures_record(*, failures: Mapping[int, tuple[str, datetime | None]]) -> int:
    """Mark each rule failing with its error, now; return how many were.

    A rule saved since it was read (its `updated_at` moved) is left alone:
    the manager changed it, and it fails again only if it still does."""
    now = timezone.now()
    marked = 0
    max_length = Rule._meta.get_field("failure").max_length
    for pk, (error, updated_at) in failures.items():
        rules = Rule.objects.filter(pk=pk)
        if updated_at is not None:
            rules = rules.filter(updated_at=updated_at)
        marked += rules.update(failed_at=now, failure=error[:max_length])
    return marked


def rule_failure_clear(*, rule: Rule) -> None:
    """Clear the rule's failing mark (a manager saved it: fixed, or to be
    tried again)."""
    if rule.failed_at is None and not rule.failure:
        return
    Rule.objects.filter(pk=rule.pk).update(failed_at=None, failure="")
    rule.failed_at, rule.failure = None, ""


def rules_failing() -> QuerySet[Rule]:
    """The rules marked failing, the latest failure first."""
    return Rule.objects.filter(failed_at__isnull=False).order_by("-failed_at")
