"""Read tracking updates from the outside: a CSV upload, our carrier JSON, and
EasyPost's `tracker.updated` Event. Each reader returns `TrackingUpdate`s or
raises `TrackingError` listing every problem with where it is."""

import csv
import io
import re
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from fulfillment.exceptions import TrackingError
from fulfillment.models import ExceptionReason, TrackingEvent
from fulfillment.services.tracking import TrackingUpdate

MAX_ROWS = 20_000
# Control characters and lone surrogates (JSON can carry "\u0000", "\ud800"):
# no text column can store them, and none is meant in a scan.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Status words people and carriers use, to our tracking status.
_STATUS_WORDS = {
    **{value: value for value in TrackingEvent.Status.values},
    **{label.lower(): value for value, label in TrackingEvent.Status.choices},
    "in transit": TrackingEvent.Status.IN_TRANSIT,
    "transit": TrackingEvent.Status.IN_TRANSIT,
    "out for delivery": TrackingEvent.Status.OUT_FOR_DELIVERY,
    "problem": TrackingEvent.Status.EXCEPTION,
}
_REASON_WORDS = {
    **{value: value for value in ExceptionReason.values},
    **{label.lower(): value for value, label in ExceptionReason.choices},
    "address problem": ExceptionReason.ADDRESS,
}

# EasyPost tracker status → (our status, exception reason); the rest
# (pre_transit, unknown, cancelled, error) says nothing about the parcel's way.
EASYPOST_STATUS = {
    "in_transit": (TrackingEvent.Status.IN_TRANSIT, ""),
    "out_for_delivery": (TrackingEvent.Status.OUT_FOR_DELIVERY, ""),
    "delivered": (TrackingEvent.Status.DELIVERED, ""),
    "available_for_pickup": (TrackingEvent.Status.EXCEPTION, ExceptionReason.PICKUP),
    "return_to_sender": (TrackingEvent.Status.EXCEPTION, ExceptionReason.RETURNED),
    "failure": (TrackingEvent.Status.EXCEPTION, ExceptionReason.OTHER),
}
# A failure's status_detail, when EasyPost gives one, names the problem.
EASYPOST_DETAIL_REASON = {
    "address_correction": ExceptionReason.ADDRESS,
    "incorrect_address": ExceptionReason.ADDRESS,
    "damaged": ExceptionReason.DAMAGED,
    "lost": ExceptionReason.LOST,
    "delayed": ExceptionReason.DELAYED,
    "weather_delay": ExceptionReason.DELAYED,
    "return": ExceptionReason.RETURNED,
}


def parse_status(value: str) -> str | None:
    return _STATUS_WORDS.get(str(value).strip().lower().replace("-", " "))


def parse_reason(value: str) -> str | None:
    return _REASON_WORDS.get(str(value).strip().lower()) if value else ""


def parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 time ("2026-03-01T14:05:00Z", "2026-03-01 14:05"); without a
    zone it is read in the site's time zone."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_day(value: Any) -> date | None:
    """A date, or the date part of a time ("2026-03-04T00:00:00Z")."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return parse_date(text[:10]) if len(text) >= 10 else parse_date(text)
    except ValueError:
        return None


def _update(
    *,
    where: str,
    tracking_number: Any,
    status: Any,
    occurred_at: Any,
    place: Any = "",
    description: Any = "",
    estimated_delivery: Any = "",
    exception_reason: Any = "",
    errors: list[str],
) -> TrackingUpdate | None:
    """Check one update's fields; add what is wrong to `errors`."""
    problems = []
    number = str(tracking_number or "").strip()
    if not number:
        problems.append("the tracking number is missing")
    elif _UNSTORABLE.search(number):
        problems.append(
            f"the tracking number {number[:40]!r} contains a control character"
        )
    our_status = parse_status(status or "")
    if our_status is None:
        problems.append(
            f"status {status!r} is not one of " + ", ".join(TrackingEvent.Status.values)
        )
    moment = parse_moment(occurred_at)
    if moment is None:
        problems.append(
            f"time {occurred_at!r} is not a date and time like 2026-03-01T14:05:00Z"
        )
    eta = parse_day(estimated_delivery) if estimated_delivery else None
    if estimated_delivery and eta is None:
        problems.append(
            f"estimated delivery {estimated_delivery!r} is not a date like 2026-03-04"
        )
    reason = parse_reason(exception_reason)
    if reason is None:
        problems.append(
            f"exception reason {exception_reason!r} is not one of "
            + ", ".join(ExceptionReason.values)
        )
    if problems:
        errors.append(f"{where}: " + "; ".join(problems) + ".")
        return None
    return TrackingUpdate(
        tracking_number=number,
        status=our_status,
        occurred_at=moment,
        place=_UNSTORABLE.sub("", str(place or "")).strip()[:120],
        description=_UNSTORABLE.sub("", str(description or "")).strip()[:255],
        estimated_delivery=eta,
        exception_reason=reason or "",
        where=where,
    )


CSV_COLUMNS = (
    "tracking number",
    "status",
    "time",
    "place",
    "description",
    "estimated delivery",
    "exception reason",
)


def parse_tracking_csv(text: str) -> list[TrackingUpdate]:
    """Read rows `tracking number, status, time, place, description, estimated
    delivery[, exception reason]`; a header row is skipped."""
    updates, errors = read_tracking_csv(text)
    if errors:
        raise TrackingError(errors)
    return updates


def read_tracking_csv(text: str) -> tuple[list[TrackingUpdate], list[str]]:
    """Return the good rows of a tracking CSV and a problem for each bad line
    (see `parse_tracking_csv`), so a page can report every problem at once."""
    updates, errors = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower().replace("_", " ") in {
            "tracking number",
            "tracking",
        }:
            continue
        where = f"Line {number}"
        if len(cells) < 3:
            errors.append(
                f"{where}: expected tracking number, status, time, place, "
                f"description, estimated delivery; got {','.join(cells)[:80]!r}."
            )
            continue
        cells += [""] * (len(CSV_COLUMNS) - len(cells))
        update = _update(
            where=where,
            tracking_number=cells[0],
            status=cells[1],
            occurred_at=cells[2],
            place=cells[3],
            description=cells[4],
            estimated_delivery=cells[5],
            exception_reason=cells[6],
            errors=errors,
        )
        if update:
            updates.append(update)
        if len(updates) > MAX_ROWS:
            raise TrackingError(f"The file has more than {MAX_ROWS} rows; split it.")
    if not updates and not errors:
        raise TrackingError("The CSV holds no tracking rows.")
    return updates, errors


def parse_tracking_json(data: Any) -> list[TrackingUpdate]:
    """Our carrier format: {"events": [{tracking_number, status, occurred_at,
    place, description, estimated_delivery, exception_reason}, …]} or one
    such event on its own."""
    single = isinstance(data, dict) and "events" not in data
    if isinstance(data, dict):
        items = [data] if single else data["events"]
    else:
        raise TrackingError('Send a JSON object: {"events": [ … ]}.')
    if not isinstance(items, list) or not items:
        raise TrackingError('"events" must be a non-empty list of events.')
    if len(items) > MAX_ROWS:
        raise TrackingError(f"Send at most {MAX_ROWS} events at once.")
    updates, errors = [], []
    for index, item in enumerate(items):
        where = "event" if single else f"events[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: must be an object.")
            continue
        update = _update(
            where=where,
            tracking_number=item.get("tracking_number"),
            status=item.get("status"),
            occurred_at=item.get("occurred_at"),
            place=item.get("place", ""),
            description=item.get("description", ""),
            estimated_delivery=item.get("estimated_delivery") or "",
            exception_reason=item.get("exception_reason") or "",
            errors=errors,
        )
        if update:
            updates.append(update)
    if errors:
        raise TrackingError(errors)
    return updates


def is_easypost_event(data: Any) -> bool:
    return isinstance(data, dict) and data.get("object") == "Event"


def _place(location: Any) -> str:
    if not isinstance(location, dict):
        return ""
    city, state = location.get("city") or "", location.get("state") or ""
    postcode, country = location.get("zip") or "", location.get("country") or ""
    region = " ".join(part for part in (state, postcode) if part)
    return ", ".join(part for part in (city, region, country) if part)


def easypost_tracking_code(data: Any) -> str:
    """The tracking code an EasyPost tracker Event reports on ("" for any
    other Event)."""
    if not is_easypost_event(data) or data.get("description") not in (
        "tracker.updated",
        "tracker.created",
    ):
        return ""
    tracker = data.get("result")
    if not isinstance(tracker, dict):
        return ""
    return str(tracker.get("tracking_code") or "").strip()


def parse_easypost_event(data: dict) -> tuple[list[TrackingUpdate], int]:
    """EasyPost's `tracker.updated` (or `tracker.created`) Event: every entry
    of the tracker's `tracking_details` becomes an update (the ones seen
    before are duplicates and ignored); `est_delivery_date` goes with the
    newest. Return the updates and how many entries said nothing we track.

    The updates carry no position: they are one tracker's, of one tracking
    number, and an unknown number is one problem whatever its scans."""
    if data.get("description") not in ("tracker.updated", "tracker.created"):
        return [], 1
    tracker = data.get("result")
    if not isinstance(tracker, dict) or tracker.get("object", "Tracker") != "Tracker":
        raise TrackingError('The Event\'s "result" must be a Tracker object.')
    code = str(tracker.get("tracking_code") or "").strip()
    if not code:
        raise TrackingError('The Tracker has no "tracking_code".')
    details = tracker.get("tracking_details") or []
    if not isinstance(details, list):
        raise TrackingError('The Tracker\'s "tracking_details" must be a list.')
    if not details and tracker.get("status"):
        # No scans listed: the tracker's own status and time stand for one.
        details = [
            {
                "status": tracker.get("status"),
                "status_detail": tracker.get("status_detail"),
                "datetime": tracker.get("updated_at"),
                "message": "",
            }
        ]
    updates, errors, ignored = [], [], 0
    newest = None
    for index, detail in enumerate(details):
        where = f"tracking_details[{index}]"
        if not isinstance(detail, dict):
            errors.append(f"{where}: must be an object.")
            continue
        mapped = EASYPOST_STATUS.get(str(detail.get("status") or ""))
        if mapped is None:
            ignored += 1
            continue
        status, reason = mapped
        if status == TrackingEvent.Status.EXCEPTION:
            reason = EASYPOST_DETAIL_REASON.get(
                str(detail.get("status_detail") or ""), reason
            )
        update = _update(
            where=where,
            tracking_number=code,
            status=status,
            occurred_at=detail.get("datetime"),
            place=_place(detail.get("tracking_location")),
            description=detail.get("message") or "",
            exception_reason=reason,
            errors=errors,
        )
        if update:
            updates.append(update)
            if newest is None or update.occurred_at >= newest.occurred_at:
                newest = update
    eta_text = tracker.get("est_delivery_date")
    eta = parse_day(eta_text) if eta_text else None
    if eta_text and eta is None:
        errors.append(f"est_delivery_date {eta_text!r} is not a date.")
    if errors:
        raise TrackingError(errors)
    if newest is not None and eta is not None:
        updates[updates.index(newest)] = replace(newest, estimated_delivery=eta)
    return [replace(update, where="") for update in updates], ignored
