"""A location's calendar: the weekdays and holidays it ships on, and the times
of day its scheduled pick waves start.

Stored as short text on `Location` (what a manager types); parsed here, with
validators that name what is wrong.
"""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError

WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DEFAULT_WORKING_DAYS = "12345"
# Looking further ahead than this for a working day means the calendar has none.
MAX_DAYS_AHEAD = 370


def parse_working_days(value: str) -> frozenset[int]:
    """Return the ISO weekdays (1 = Monday … 7 = Sunday) in `value`."""
    return frozenset(int(char) for char in value if char.isdigit())


def validate_working_days(value: str) -> None:
    """Refuse anything but distinct digits 1–7, at least one."""
    if not value or any(char not in "1234567" for char in value):
        raise ValidationError(
            "Write the working days as digits 1 (Monday) to 7 (Sunday), e.g. "
            "12345 for Monday to Friday."
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each working day once, e.g. 12345.")


def parse_holidays(value: str) -> frozenset[datetime.date]:
    """Return the dates in `value` (YYYY-MM-DD, separated by commas or lines)."""
    return frozenset(
        datetime.date.fromisoformat(part) for part in _parts(value) if part
    )


def validate_holidays(value: str) -> None:
    """Refuse a holiday that is not a YYYY-MM-DD date, naming it."""
    for part in _parts(value):
        try:
            datetime.date.fromisoformat(part)
        except ValueError:
            raise ValidationError(
                f"“{part}” is not a date: write holidays as YYYY-MM-DD, one per "
                "line or separated by commas."
            ) from None


def parse_wave_times(value: str) -> list[datetime.time]:
    """Return the times of day in `value` (HH:MM, comma-separated), sorted."""
    return sorted({_time(part) for part in _parts(value)})


def validate_wave_times(value: str) -> None:
    """Refuse a wave time that is not HH:MM, naming it."""
    for part in _parts(value):
        try:
            _time(part)
        except ValueError:
            raise ValidationError(
                f"“{part}” is not a time of day: write wave times as HH:MM "
                "separated by commas, e.g. 09:00, 13:30."
            ) from None


def is_working_day(
    day: datetime.date, *, weekdays: frozenset[int], holidays: Iterable[datetime.date]
) -> bool:
    """Return whether the location ships on `day`."""
    return day.isoweekday() in weekdays and day not in holidays


def next_working_day(
    day: datetime.date,
    *,
    weekdays: frozenset[int],
    holidays: frozenset[datetime.date],
    include_today: bool,
) -> datetime.date:
    """Return `day` (when `include_today` and it is a working day) or the
    first working day after it; `day` itself when the calendar has none."""
    candidate = day if include_today else day + datetime.timedelta(days=1)
    for _ in range(MAX_DAYS_AHEAD):
        if is_working_day(candidate, weekdays=weekdays, holidays=holidays):
            return candidate
        candidate += datetime.timedelta(days=1)
    return day


def _parts(value: str) -> list[str]:
    return [
        part.strip() for part in value.replace("\n", ",").split(",") if part.strip()
    ]


def _time(text: str) -> datetime.time:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(text)
    return datetime.time(int(hours), int(minutes))
