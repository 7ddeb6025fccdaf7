"""Scheduled pick waves: at each location's wave times, the allocated orders
whose stock is reserved there go on pick lists — earliest ship-by first,
then priority, then oldest, at most the location's wave size.

A periodic task (`pick_waves_run_due_task`, every minute) runs
`pick_waves_run_due`. Each (location, wave time) is claimed once by inserting
its `PickWave` row (unique per location and time) first, in the same
transaction that makes the wave: a wave run twice for one slot (two workers,
a retried task) makes one wave, and a wave that fails leaves its slot free
for the next minute's run.
"""

import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.tasks import app
from core.users import Actor
from fulfillment.exceptions import FulfillmentError
from fulfillment.models import PickWave
from fulfillment.services.picking import PICK_ORDER, pick_lists_create
from inventory import workdays
from inventory.models import Allocation, Location
from orders import events as order_events
from orders.models import Order, OrderEvent, OrderStatus

logger = logging.getLogger("oms.waves")

# A wave time missed by longer than this (no worker was running) is skipped,
# not run hours late; the next wave time picks its orders up.
LATE_START_LIMIT = datetime.timedelta(hours=1)


def pick_wave_slots_due(
    *, now: datetime.datetime | None = None
) -> list[tuple[Location, datetime.datetime]]:
    """Return (location, wave time) of every wave whose time has come within
    `LATE_START_LIMIT`, on the location's working days, in the site time zone."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = []
    for location in Location.objects.filter(active=True).exclude(wave_times=""):
        try:
            weekdays = workdays.parse_working_days(location.working_days)
            holidays = workdays.parse_holidays(location.holidays)
            times = workdays.parse_wave_times(location.wave_times)
        except ValueError:
            # Written past the form's checks: one location's typo must not
            # stop every other location's waves.
            logger.error("Location %s: unreadable calendar; no wave", location.code)
            continue
        for day in (today - datetime.timedelta(days=1), today):
            if not workdays.is_working_day(day, weekdays=weekdays, holidays=holidays):
                continue
            for wave_time in times:
                scheduled = timezone.make_aware(
                    datetime.datetime.combine(day, wave_time)
                )
                if scheduled <= now < scheduled + LATE_START_LIMIT:
                    due.append((location, scheduled))
    return due


def pick_wave_candidates(*, location: Location, limit: int) -> list[int]:
    """Return the ids of the allocated orders with stock reserved at
    `location`, in wave order: earliest ship-by first (none last), then
    priority, then oldest."""
    reserved_here = Allocation.objects.filter(
        order_line__order_id=OuterRef("pk"), stock_level__location_id=location.pk
    )
    return list(
        Order.objects.filter(status=OrderStatus.ALLOCATED)
        .filter(Exists(reserved_here))
        .order_by(*PICK_ORDER)
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def pick_wave_run(
    *,
    location: Location,
    scheduled_for: datetime.datetime,
    actor: Actor = None,
) -> PickWave | None:
    """Make the wave of `location` for the wave time `scheduled_for`, once.

    Return the wave, or None when this slot has run already.
    """
    try:
        with transaction.atomic():
            # The claim of the slot: a second run waits here, then finds it taken.
            wave = PickWave.objects.create(
                location=location, scheduled_for=scheduled_for
            )
    except IntegrityError:
        return None
    label = timezone.localtime(scheduled_for).strftime("%H:%M")
    order_ids = pick_wave_candidates(location=location, limit=location.wave_size)
    if not order_ids:
        wave.note = "Nothing to pick: no allocated order waits at this location."
        wave.save()
        return wave
    try:
        made = pick_lists_create(order_ids=order_ids, actor=actor)
    except FulfillmentError as error:
        wave.note = str(error)[:255]
        wave.save()
        return wave
    wave.order_count = len(made.orders)
    if made.skipped:
        wave.note = ("Left out: " + "; ".join(made.skipped))[:255]
    wave.save()
    wave.pick_lists.set(made.pick_lists)
    numbers = ", ".join(pick_list.number for pick_list in made.pick_lists)
    OrderEvent.objects.bulk_create(
        order_events.order_event_fulfillment(
            order=order,
            actor=actor,
            message=f"Scheduled: on the {label} pick wave at {location.code} "
            f"(pick list {numbers}).",
            data={
                "scheduled_wave": wave.pk,
                "pick_lists": [pick_list.number for pick_list in made.pick_lists],
            },
            save=False,
        )
        for order in made.orders
    )
    return wave


def pick_waves_run_due(*, now: datetime.datetime | None = None) -> list[PickWave]:
    """Run every wave whose time has come and has not run yet, each in its
    own transaction. Return the waves made."""
    made = []
    for location, scheduled_for in pick_wave_slots_due(now=now):
        wave = pick_wave_run(location=location, scheduled_for=scheduled_for)
        if wave is not None:
            logger.info("Pick wave %s: %d order(s)", wave, wave.order_count)
            made.append(wave)
    return made


@app.periodic(cron="* * * * *", periodic_id="pick-waves")
@app.task(queueing_lock="pick-waves")
def pick_waves_run_due_task(timestamp: int = 0) -> int:
    """Periodic: run the scheduled pick waves that are due."""
    return len(pick_waves_run_due())
