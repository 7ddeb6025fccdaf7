"""Counts kept by the database, for a dashboard that never counts big tables.

- Orders per hour placed (UTC), channel and status (`OrderTally`).
- Shipments per status and estimated delivery date (`ShipmentTally`): late
  (on the way, past the estimate) and in exception.

Triggers declared on `Order` and `Shipment` (`core.tally_triggers`, installed
by django-pgtrigger's migrations) write the changes of every insert, update,
delete and COPY to a change table in the statement's own transaction.
`tallies_fold` (periodic) moves the changes into the tallies; readers add
the two, so the counts are exact at any moment. `tallies_rebuild` counts
everything again (after a bulk load that bypassed the triggers, like
`seed_scale`).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import models, transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce, Trunc, TruncDate

from core.tasks import app
from fulfillment.models import Shipment
from oms import sql
from oms.models import (
    NO_ESTIMATE,
    OrderTally,
    OrderTallyChange,
    ShipmentTally,
    ShipmentTallyChange,
)
from orders.models import Order


@dataclass(frozen=True)
class Tally:
    """A counted model, its tally and change tables, and the keys it is
    counted by (as the triggers on the counted model compute them)."""

    source: type[models.Model]
    tally: type[models.Model]
    changes: type[models.Model]
    count: str  # the tally's count field
    # tally field -> the source's field, or an expression over the source
    keys: dict[str, str | models.Expression]

    def fold(self) -> int:
        """Move the pending changes into the tally; return how many tally
        rows changed."""
        moved = sql.tally_changes_fold(
            tally=self.tally,
            changes=self.changes,
            keys=list(self.keys),
            count=self.count,
        )
        self.tally.objects.filter(**{self.count: 0}).delete()
        return moved

    def rebuild(self) -> None:
        """Count the source table again (the caller locks it)."""
        self.changes.objects.all().delete()
        self.tally.objects.all().delete()
        groups = (
            self.source.objects.order_by()
            .values_list(*self.keys.values())
            .annotate(counted=Count("pk"))
        )
        sql.rows_insert_select(
            model=self.tally, fields=[*self.keys, self.count], queryset=groups
        )


TALLIES = [
    Tally(
        source=Order,
        tally=OrderTally,
        changes=OrderTallyChange,
        count="orders",
        keys={
            "hour": Trunc("placed_at", "hour", tzinfo=UTC),
            "channel_id": "channel_id",
            "status": "status",
        },
    ),
    Tally(
        source=Shipment,
        tally=ShipmentTally,
        changes=ShipmentTallyChange,
        count="shipments",
        keys={
            "status": "status",
            "estimated_delivery": Coalesce(
                "estimated_delivery", Value(NO_ESTIMATE, models.DateField())
            ),
        },
    ),
]


@transaction.atomic
def tallies_rebuild() -> None:
    """Count every order and shipment again (their tables are locked against
    writes meanwhile, so no change is counted twice or missed)."""
    sql.tables_lock_against_writes(of=[tally.source for tally in TALLIES])
    for tally in TALLIES:
        tally.rebuild()


@app.periodic(cron="* * * * *", periodic_id="tallies-fold")
@app.task(queueing_lock="tallies-fold")
def tallies_fold(timestamp: int = 0) -> int:
    """Periodic (`periodic`): add the changes into the tallies."""
    return tallies_fold_now()


@transaction.atomic
def tallies_fold_now() -> int:
    """Move the pending changes into the tallies; return how many tally rows
    changed."""
    return sum(tally.fold() for tally in TALLIES)


def counts_sum(folded, pending, *keys: str) -> dict:
    """Add the folded counts and the pending changes (one query)."""
    parts = [
        queryset.values_list(*keys).annotate(n=Sum(column)).order_by()
        for queryset, column in ((folded[0], folded[1]), (pending, "change"))
    ]
    counts: dict = {}
    for *key, n in parts[0].union(parts[1], all=True):
        key = key[0] if len(key) == 1 else tuple(key)
        counts[key] = counts.get(key, 0) + n
    return counts


def order_counts_by_status(statuses: list[str]) -> dict[str, int]:
    """Exact number of orders in each status (one query)."""
    counts = counts_sum(
        (OrderTally.objects.filter(status__in=statuses), "orders"),
        OrderTallyChange.objects.filter(status__in=statuses),
        "status",
    )
    return {status: counts.get(status, 0) for status in statuses}


def order_counts_by_day(since: datetime) -> dict[tuple, int]:
    """Exact number of orders placed since `since` per (local day, channel id),
    one query. Days are in the current time zone (whole-hour offsets)."""
    return counts_sum(
        (
            OrderTally.objects.filter(hour__gte=since).annotate(day=TruncDate("hour")),
            "orders",
        ),
        OrderTallyChange.objects.filter(hour__gte=since).annotate(
            day=TruncDate("hour")
        ),
        "day",
        "channel_id",
    )


def shipment_counts(*, on_the_way: list[str], problem: str, today: date) -> dict:
    """Exact numbers of shipments late (on the way, past their estimate) and
    in `problem` status (one query)."""
    late = Q(status__in=on_the_way, estimated_delivery__lt=today) & ~Q(
        estimated_delivery=NO_ESTIMATE
    )
    flag = Q(status=problem)
    counts = counts_sum(
        (ShipmentTally.objects.filter(late | flag), "shipments"),
        ShipmentTallyChange.objects.filter(late | flag),
        "status",
    )
    return {
        "late": sum(n for status, n in counts.items() if status in on_the_way),
        "exceptions": counts.get(problem, 0),
    }
