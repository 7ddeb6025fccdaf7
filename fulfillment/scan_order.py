"""In what order carrier scans count: by what they mean, then by their time.

A scan means a stage of the shipment's life: *in transit* (1) <
*out for delivery* (2) < *delivered* (3); the shipment is at the highest
stage any of its scans reached (*shipped*, 0, before the first). An
*exception* (returned to sender, waiting at a pickup point, failure …) is
no stage: it is a problem at the stage the shipment is at.

- *Delivered* is always applied, and final: nothing after it moves the
  shipment again (a return to sender after a delivery is history; open a
  return).
- A scan of a later stage than the shipment's is applied whatever its time
  (a wrongly dated scan before it must not block it) — unless the shipment
  is in *exception* on a scan newer than it: the problem came after, and the
  shipment stays in exception.
- A scan of the shipment's own stage, or an exception, is applied when it
  is the newest scan; older, it is history.
- A scan of an earlier stage is history: it is on the timeline, and does
  not move the shipment back.

Scans are compared by the time they happened, but never later than the
time they reached us: no scan happened after it arrived. A scan dated more
than `OMS_TRACKING_CLOCK_TOLERANCE` (seconds, default 900) ahead of its
arrival (a local time sent as UTC) is kept as sent and flagged *dated
ahead*; it counts from its arrival.
"""

from datetime import UTC, datetime, timedelta
from enum import Enum

from django.conf import settings
from django.utils import timezone

from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent

STAGES = {
    TrackingEvent.Status.IN_TRANSIT: 1,
    TrackingEvent.Status.OUT_FOR_DELIVERY: 2,
    TrackingEvent.Status.DELIVERED: 3,
}


class Effect(Enum):
    """What a scan does to its shipment."""

    DELIVER = "deliver"  # the shipment is delivered
    MOVE = "move"  # the shipment moves to the scan's status
    HISTORY = "history"  # recorded on the timeline only


def future_tolerance() -> timedelta:
    """Return how far ahead of now a scan may be dated (clocks and zones err)."""
    tolerance = getattr(settings, "OMS_TRACKING_FUTURE_TOLERANCE", 24 * 3600)
    if isinstance(tolerance, timedelta):
        return tolerance
    return timedelta(seconds=float(tolerance))


def tolerance_text(tolerance: timedelta) -> str:
    hours = tolerance.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{hours:g} hours"


def future_problem(*, occurred_at: datetime, status: str, shipment: Shipment) -> str:
    """Say why a scan dated in the future cannot be recorded ("" when it can).

    One scan dated years ahead would make every real scan old news, and a
    delivery cannot have happened yet.
    """
    tolerance = future_tolerance()
    if occurred_at <= timezone.now() + tolerance:
        return ""
    what = "A delivery" if status == TrackingEvent.Status.DELIVERED else "A scan"
    number = shipment.tracking_number or shipment.number
    return (
        f"tracking number {number[:40]!r}: the time "
        f"{occurred_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC is in the future. "
        f"{what} may be dated at most {tolerance_text(tolerance)} ahead; check "
        "the clock and time zone of the sender."
    )


def clock_tolerance() -> timedelta:
    """How far ahead of its arrival a scan may be dated without a flag."""
    tolerance = getattr(settings, "OMS_TRACKING_CLOCK_TOLERANCE", 15 * 60)
    if isinstance(tolerance, timedelta):
        return tolerance
    return timedelta(seconds=float(tolerance))


def is_dated_ahead(occurred_at: datetime, arrived_at: datetime) -> bool:
    return occurred_at > arrived_at + clock_tolerance()


def ordered_at(occurred_at: datetime, arrived_at: datetime) -> datetime:
    """The time a scan counts from: its own, never after its arrival."""
    return min(occurred_at, arrived_at)


def stage_of(statuses) -> int:
    """The stage the shipment reached, from the statuses of its scans."""
    return max((STAGES.get(status, 0) for status in statuses), default=0)


def scan_effect(
    *,
    status: str,
    at: datetime,
    shipment_status: str,
    stage: int,
    newest: datetime | None,
) -> tuple[Effect, bool]:
    """Decide what a scan (counting from `at`) does to a shipment whose
    scans reached `stage`, the newest counting from `newest`. Return the
    effect and whether the scan is the newest one (its news, e.g. a new
    delivery estimate, count)."""
    news = newest is None or at >= newest
    if shipment_status == ShipmentStatus.DELIVERED:
        return Effect.HISTORY, False
    if status == TrackingEvent.Status.DELIVERED:
        return Effect.DELIVER, True
    if status == TrackingEvent.Status.EXCEPTION:
        return (Effect.MOVE if news else Effect.HISTORY), news
    rank = STAGES[status]
    if rank > stage:
        if shipment_status == ShipmentStatus.EXCEPTION and not news:
            return Effect.HISTORY, False
        return Effect.MOVE, news
    if rank == stage and news:
        return Effect.MOVE, True
    return Effect.HISTORY, False
