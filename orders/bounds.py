"""The bounds of every value an order is written with: one place, used by
every intake (the order API, the shops' webhooks, the CSV import's preview
and confirm, the admin's order form and edits).

What is accepted can be written: a value inside these bounds never makes the
writer fail (the ship-by date computed from `placed_at`, the database's
columns), so an order answered as taken in is written.

- **placed_at**: at most a year (365 days) after the time the order is
  received, and not before 2000-01-01. The future bound is the one the
  writer needs (a ship-by date counted in working days from it) and catches
  a mistyped year (2999, 9999); the past bound is a fixed day rather than a
  year back, because a shop re-sends old orders and a file may carry a
  shop's history (the published Shopify payloads are from 2005 and 2008),
  while year 1 or 1900 is always a mistake. "Now" is when the message was
  received, so an order the API took in is still within its bounds when the
  worker writes it, or when it is replayed.
- **requested delivery date** and **ship-by date**: within a year (365
  days) of today, before or after (the customer's own page allows less:
  `orders.services.customer`).
- **text, quantities and money**: within their model field's limits
  (`max_length`, `max_digits`/`decimal_places`, PostgreSQL's integer
  ranges), read from the fields themselves by `core.limits`; the order's
  totals too (`orders.importing.validate`).

Each check returns a sentence about the value, ready to follow the field's
name (and row, in a file), or None when the value can be written.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from core.limits import model_value_problem

# How far from the time it is received an order may say it was placed.
PLACED_AT_AHEAD = timedelta(days=365)
PLACED_AT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# How far from today a requested delivery or ship-by date may be.
DELIVERY_DATE_DAYS = 365


def placed_at_problem(value: datetime, *, now: datetime | None = None) -> str | None:
    """Say why an order cannot be placed at `value` when received at `now`."""
    now = now or timezone.now()
    try:
        shown = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        too_early = value < PLACED_AT_EARLIEST
        too_late = value > now + PLACED_AT_AHEAD
    except (OverflowError, ValueError):
        return _(
            "%(value)s is out of the range of dates that fit; no order is "
            "placed then. Check the year."
        ) % {"value": value.isoformat()}
    if too_early:
        return _(
            "%(value)s is before %(earliest)s; no order is that old. Check the year."
        ) % {"value": shown, "earliest": f"{PLACED_AT_EARLIEST:%Y-%m-%d}"}
    if too_late:
        return _(
            "%(value)s is more than a year after today (%(today)s); an order "
            "cannot be placed in the future. Check the year."
        ) % {"value": shown, "today": f"{timezone.localtime(now):%Y-%m-%d}"}
    return None


def delivery_date_problem(value: date, *, today: date | None = None) -> str | None:
    """Say why a requested delivery or ship-by date cannot be `value`."""
    today = today or timezone.localdate()
    if abs((value - today).days) > DELIVERY_DATE_DAYS:
        return _(
            "%(value)s is more than a year from today (%(today)s); choose a day "
            "within a year."
        ) % {"value": f"{value:%Y-%m-%d}", "today": f"{today:%Y-%m-%d}"}
    return None


# The order's dates with a bound of their own, and their check.
ORDER_DATES = {
    "placed_at": placed_at_problem,
    "requested_delivery_date": delivery_date_problem,
    "ship_by": delivery_date_problem,
}


def order_value_problem(model: type[models.Model], name: str, value: Any) -> str | None:
    """Say why the field `name` of `model` (an order, its line, its customer)
    cannot be written with `value`: the order's dates against their bounds,
    everything else against the field's limits."""
    if value is None:
        return None
    if name in ORDER_DATES and model._meta.label == "orders.Order":
        return ORDER_DATES[name](value)
    return model_value_problem(model, name, value)


def order_dates_problems(values: dict[str, Any]) -> dict[str, str]:
    """The order's date fields among `values` that are out of bounds, with
    why (for a form or a service given several fields at once)."""
    return {
        name: problem
        for name, check in ORDER_DATES.items()
        if values.get(name) is not None and (problem := check(values[name]))
    }
