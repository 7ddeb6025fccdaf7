"""Ship-by dates: the day an order must leave the warehouse.

A channel's handling time says when: an order placed before the channel's
cut-off time on a working day ships that day, a later one the next working
day, plus the channel's handling days (working days). Working days are
those of the location expected to ship the order — the first active
location, by priority, that ships to its country — since stock is reserved
only after intake. Times are read in the site's time zone (`TIME_ZONE`),
so a cut-off of 14:00 means 14:00 on the warehouse's clock, summer or winter.

`ship_by_for` serves one order; `ShipByCalendar.ship_by` serves an import of
many from one read of the locations, with the answers memoised (most orders
of an import share a channel, a country and a day).

Once allocation reserves an order's stock, the locations actually chosen
are known: `ship_by_follow_allocation` moves the date to their working days
(the latest of them, when the order ships from several).
"""

import datetime
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from django.db.models import Case, Q, Value, When
from django.utils import timezone

from core.lookups import any_of, lookup_chunks
from inventory import workdays
from inventory.models import Allocation, Location
from orders.models import Channel, Order
from orders.models.orders import TO_SHIP


@dataclass(frozen=True)
class WorkingDays:
    """The days one location ships on."""

    weekdays: frozenset[int]
    holidays: frozenset[datetime.date]

    def is_working(self, day: datetime.date) -> bool:
        return workdays.is_working_day(
            day, weekdays=self.weekdays, holidays=self.holidays
        )

    def next(self, day: datetime.date, *, include_today: bool) -> datetime.date:
        return workdays.next_working_day(
            day,
            weekdays=self.weekdays,
            holidays=self.holidays,
            include_today=include_today,
        )


MONDAY_TO_FRIDAY = WorkingDays(
    workdays.parse_working_days(workdays.DEFAULT_WORKING_DAYS), frozenset()
)


@dataclass
class ShipByCalendar:
    """The active locations' working days, read once, and ship-by dates
    worked out from them."""

    # (ships_to countries, working days) per active location, best priority first.
    locations: list[tuple[frozenset[str], WorkingDays]]
    # The same calendars by location code (allocation names locations so).
    by_code: dict[str, WorkingDays] = field(default_factory=dict)
    _by_country: dict[str, WorkingDays] = field(default_factory=dict)
    _memo: dict[tuple, datetime.date] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "ShipByCalendar":
        """Read the active locations' calendars (one query)."""
        rows = Location.objects.filter(active=True).order_by("priority", "code")
        by_code = {
            location.code: WorkingDays(
                workdays.parse_working_days(location.working_days),
                _holidays(location),
            )
            for location in rows
        }
        return cls(
            [
                (location.ships_to_countries, by_code[location.code])
                for location in rows
            ],
            by_code,
        )

    def working_days(self, country: str) -> WorkingDays:
        """The calendar of the location expected to ship to `country`."""
        country = str(country).upper()
        if country not in self._by_country:
            shipping = [
                days
                for ships_to, days in self.locations
                if not ships_to or country in ships_to
            ]
            chosen = shipping or [days for _, days in self.locations]
            self._by_country[country] = chosen[0] if chosen else MONDAY_TO_FRIDAY
        return self._by_country[country]

    def ship_by(
        self,
        *,
        placed_at: datetime.datetime,
        country: str,
        cutoff: datetime.time,
        handling_days: int,
    ) -> datetime.date:
        """Return the day an order placed at `placed_at` must ship."""
        return self.ship_by_from(
            placed_at=placed_at,
            days=self.working_days(country),
            cutoff=cutoff,
            handling_days=handling_days,
        )

    def ship_by_from(
        self,
        *,
        placed_at: datetime.datetime,
        days: WorkingDays,
        cutoff: datetime.time,
        handling_days: int,
    ) -> datetime.date:
        """Return the day an order placed at `placed_at` must ship from a
        location working `days`."""
        local = timezone.localtime(placed_at)
        before_cutoff = local.time() < cutoff
        key = (local.date(), before_cutoff, days, cutoff, handling_days)
        if key not in self._memo:
            ship = days.next(local.date(), include_today=before_cutoff)
            for _ in range(handling_days):
                ship = days.next(ship, include_today=False)
            self._memo[key] = ship
        return self._memo[key]


def _holidays(location: Location) -> frozenset[datetime.date]:
    """The location's holidays; none when the text was written past the form's
    checks (an order's intake never fails over a location's typo)."""
    try:
        return workdays.parse_holidays(location.holidays)
    except ValueError:
        return frozenset()


def ship_by_for(
    *,
    channel: Channel,
    placed_at: datetime.datetime,
    country: str,
    calendar: ShipByCalendar | None = None,
) -> datetime.date:
    """Return the ship-by date of one order of `channel` placed at `placed_at`
    going to `country`."""
    return (calendar or ShipByCalendar.load()).ship_by(
        placed_at=placed_at,
        country=country,
        cutoff=channel.cutoff_time,
        handling_days=channel.handling_days,
    )


def ship_by_many(
    *,
    orders: list[tuple[int, datetime.datetime, str]],
    handling: Mapping[int, tuple[datetime.time, int]] | None = None,
) -> list[datetime.date]:
    """Return the ship-by dates of many new orders, given as (channel id,
    placed at, country): two queries at most, however many orders.

    `handling` (channel id -> (cut-off time, handling days)) are the channels
    the caller has read already; the others are read. The locations'
    calendar is read each time (one query on the few locations, what a hit in
    the database cache would cost): a changed calendar dates the next order.
    """
    calendar = ShipByCalendar.load()
    handling = dict(handling or {})
    if missing := {pk for pk, _, _ in orders if pk not in handling}:
        handling.update(
            (pk, (cutoff, days))
            for pk, cutoff, days in Channel.objects.filter(pk__in=missing).values_list(
                "pk", "cutoff_time", "handling_days"
            )
        )
    return [
        calendar.ship_by(
            placed_at=placed_at,
            country=country,
            cutoff=handling[channel_id][0],
            handling_days=handling[channel_id][1],
        )
        for channel_id, placed_at, country in orders
    ]


def ship_by_follow_allocation(
    *,
    reserved_at: Mapping[int, tuple[str, Collection[str]]],
    reserved_before: Collection[int] = (),
) -> dict[int, datetime.date]:
    """Move the ship-by dates of orders that just reserved stock to the working
    days of the locations reserving it: the latest date of those locations.

    `reserved_at` is order id -> (ship-to country, codes of the locations this
    allocation reserved at); `reserved_before` are the orders that may hold
    older reservations too (backordered, partly shipped), whose every
    location is read. Orders whose locations work the days the intake
    expected keep their date without a query: with one calendar everywhere,
    this costs one small read of the locations. The rest are read and those
    whose date moves are written in one UPDATE. Returns id -> new date.
    """
    if not reserved_at:
        return {}
    calendar = ShipByCalendar.load()
    if not reserved_before and len(set(calendar.by_code.values())) < 2:
        return {}  # one calendar everywhere: no date can move
    # Per country, the locations working other days than the expected one.
    other_days: dict[str, frozenset[str]] = {}
    codes_of: dict[int, set[str]] = {}
    for order_id, (country, codes) in reserved_at.items():
        if country not in other_days:
            expected = calendar.working_days(country)
            other_days[country] = frozenset(
                code for code, days in calendar.by_code.items() if days != expected
            )
        if order_id in reserved_before or not other_days[country].isdisjoint(codes):
            codes_of[order_id] = set(codes)
    if not codes_of:
        return {}
    earlier = [pk for pk in codes_of if pk in reserved_before]
    for chunk in lookup_chunks(earlier):
        for order_id, code in (
            Allocation.objects.filter(any_of("order_line__order__id", chunk))
            .order_by()
            .values_list("order_line__order_id", "stock_level__location__code")
            .distinct()
        ):
            codes_of[order_id].add(code)
    moved: dict[int, datetime.date] = {}
    for chunk in lookup_chunks(list(codes_of)):
        for pk, placed_at, ship_by, cutoff, handling_days in (
            Order.objects.filter(any_of("pk", chunk), ship_by__isnull=False)
            .order_by()
            .values_list(
                "pk",
                "placed_at",
                "ship_by",
                "channel__cutoff_time",
                "channel__handling_days",
            )
        ):
            calendars = {
                calendar.by_code[code]
                for code in codes_of[pk]
                if code in calendar.by_code
            }
            if not calendars:
                continue
            latest = max(
                calendar.ship_by_from(
                    placed_at=placed_at,
                    days=days,
                    cutoff=cutoff,
                    handling_days=handling_days,
                )
                for days in calendars
            )
            if latest != ship_by:
                moved[pk] = latest
    if moved:
        # One UPDATE, a CASE on the few new dates.
        by_date: dict[datetime.date, list[int]] = defaultdict(list)
        for pk, day in moved.items():
            by_date[day].append(pk)
        Order.objects.filter(any_of("pk", list(moved))).update(
            ship_by=Case(
                *(
                    When(any_of("pk", pks), then=Value(day))
                    for day, pks in by_date.items()
                )
            )
        )
    return moved


def ship_by_due_today_q(*, today: datetime.date | None = None) -> Q:
    """Orders still to ship whose ship-by date is today (the site's today)."""
    return Q(ship_by=today or timezone.localdate(), status__in=TO_SHIP)


def ship_by_late_q(*, today: datetime.date | None = None) -> Q:
    """Orders still to ship whose ship-by date has passed."""
    return Q(ship_by__lt=today or timezone.localdate(), status__in=TO_SHIP)
