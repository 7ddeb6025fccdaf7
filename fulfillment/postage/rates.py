"""Rates: when a shipment is packed its parcel is measured (a box of the
location, or its products) and, for a location that buys postage through
EasyPost, its rates are fetched in the background and a preferred one
picked by the location's preference.

Fetching reads top to bottom: plan (a short transaction), call EasyPost
(no transaction), record (lock, check, write).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from core.tasks import app, defer_in_transaction
from fulfillment.exceptions import FulfillmentError
from fulfillment.locks import lock_postage
from fulfillment.models import Carrier, Shipment, ShipmentStatus
from fulfillment.models.postage import (
    Box,
    LabelFormat,
    LocationPostage,
    RateChoice,
    ShipmentPostage,
)
from fulfillment.postage import client
from fulfillment.postage.concurrency import concurrency, run_bounded
from fulfillment.postage.parcels import (
    box_for,
    easypost_parcel,
    product_dimensions_mm,
    ship_from,
    ship_to,
)
from orders import events as order_events
from orders.models import Order

# A label is bought, being bought or being voided: no new rates meanwhile.
LABEL_HELD = (
    ShipmentPostage.Status.BUYING,
    ShipmentPostage.Status.BOUGHT,
    ShipmentPostage.Status.VOIDING,
)


def location_settings(location_id: int) -> LocationPostage | None:
    return (
        LocationPostage.objects.select_related("carrier__account")
        .filter(location_id=location_id)
        .first()
    )


def easypost_key(carrier: Carrier | None) -> str:
    """Return the API key postage for `carrier` is bought with, or refuse."""
    account = getattr(carrier, "account", None) if carrier else None
    if account is None or not account.is_easypost:
        name = carrier.name if carrier else "(none)"
        raise FulfillmentError(
            f"Carrier {name} does not buy postage through EasyPost; set it up "
            "under Fulfilment › Carrier accounts."
        )
    return account.api_key


def _content_dimensions(shipment: Shipment) -> tuple[int, int, int] | None:
    return product_dimensions_mm(
        [
            (
                line.quantity,
                line.order_line.product.length_mm,
                line.order_line.product.width_mm,
                line.order_line.product.height_mm,
            )
            for line in shipment.lines.select_related("order_line__product")
        ]
    )


def shipment_parcel_measure(
    *,
    shipment: Shipment,
    box: Box | None = None,
    dimensions_mm: tuple[int, int, int] | None = None,
) -> ShipmentPostage | None:
    """Record a packed shipment's parcel size, inside the packing transaction.

    A chosen box or dimensions win; otherwise the smallest box of the
    location the products fit in, else the products' own size. Returns None
    for a location that buys no postage through EasyPost and is given no size.
    """
    settings = location_settings(shipment.location_id)
    carrier = settings.carrier if settings else None
    if box is not None and box.location_id != shipment.location_id:
        raise FulfillmentError(
            f"Box {box.name} belongs to another location than shipment "
            f"{shipment.number}."
        )
    if dimensions_mm is not None and not (
        len(dimensions_mm) == 3
        and all(isinstance(d, int) and 0 < d < 10_000 for d in dimensions_mm)
    ):
        raise FulfillmentError(
            f"Shipment {shipment.number}: give length, width and height in whole "
            "millimetres between 1 and 9999."
        )
    if carrier is None and box is None and dimensions_mm is None:
        return None
    if box is None and dimensions_mm is None:
        dimensions_mm = _content_dimensions(shipment)
        box = box_for(
            list(Box.objects.filter(location_id=shipment.location_id)), dimensions_mm
        )
    if box is not None:
        dimensions_mm = (box.length_mm, box.width_mm, box.height_mm)
    length, width, height = dimensions_mm or (None, None, None)
    postage, _ = ShipmentPostage.objects.update_or_create(
        shipment=shipment,
        defaults={
            "carrier": carrier,
            "box": box,
            "length_mm": length,
            "width_mm": width,
            "height_mm": height,
        },
    )
    return postage


def shipment_postage_on_pack(*, shipment: Shipment) -> None:
    """Measure the parcel of a shipment being packed and fetch its rates
    after the packing commits (a location buying through EasyPost only)."""
    postage = shipment_parcel_measure(shipment=shipment)
    if postage is not None and postage.carrier_id is not None:
        defer_in_transaction(
            lambda: shipment_rates_fetch_task.defer(shipment_id=shipment.pk)
        )


# ---- fetching


@dataclass(frozen=True)
class RatingPlan:
    shipment_id: int
    api_key: str
    params: dict[str, Any]


@transaction.atomic
def _rating_plan(shipment_id: int) -> RatingPlan:
    postage = lock_postage(shipment_id)
    shipment = Shipment.objects.select_related("order__customer", "location").get(
        pk=shipment_id
    )
    if shipment.status != ShipmentStatus.PACKED:
        raise FulfillmentError(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}; "
            "rates are fetched for packed shipments."
        )
    if postage.status in LABEL_HELD:
        raise FulfillmentError(
            f"Shipment {shipment.number} has a label (or one is being bought); "
            "void it before fetching new rates."
        )
    settings = location_settings(shipment.location_id)
    api_key = easypost_key(postage.carrier)
    account = postage.carrier.account
    reference = shipment.number + (
        f"-{postage.purchases + 1}" if postage.purchases else ""
    )
    label_format = settings.label_format if settings else LabelFormat.PDF
    params: dict[str, Any] = {
        "reference": reference,
        "from_address": ship_from(settings, shipment.location),
        "to_address": ship_to(shipment.order),
        "parcel": easypost_parcel(postage, shipment.weight_g),
        "options": {"label_format": label_format, "label_size": "4x6"},
    }
    if account.account_id_list:
        params["carrier_accounts"] = account.account_id_list
    postage.reference = reference
    postage.label_format_asked = label_format
    postage.save(update_fields=["reference", "label_format_asked", "updated_at"])
    return RatingPlan(shipment_id=shipment_id, api_key=api_key, params=params)


def rate_preferred(
    rates: Sequence[dict[str, Any]],
    *,
    choice: str,
    preferred_carriers: Sequence[str] = (),
    by_date: date | None = None,
    shipped_on: date | None = None,
) -> dict[str, Any] | None:
    """Return the rate a location's preference picks, or None (a person picks)."""

    def price(rate: dict[str, Any]) -> Decimal:
        return client.decimal_or_none(rate.get("rate")) or Decimal("Infinity")

    if choice == RateChoice.CHEAPEST:
        candidates = list(rates)
    elif choice == RateChoice.PREFERRED_CARRIERS:
        wanted = [c.lower() for c in preferred_carriers]
        candidates = [r for r in rates if r.get("carrier", "").lower() in wanted]
    elif choice == RateChoice.CHEAPEST_BY_DATE:
        if by_date is None:
            candidates = list(rates)
        else:
            shipped_on = shipped_on or timezone.localdate()
            candidates = [
                r
                for r in rates
                if (
                    r.get("delivery_date") and r["delivery_date"] <= by_date.isoformat()
                )
                or (
                    not r.get("delivery_date")
                    and r.get("delivery_days") is not None
                    and (by_date - shipped_on).days >= int(r["delivery_days"])
                )
            ]
    else:
        return None
    return min(candidates, key=price, default=None)


@transaction.atomic
def _rating_record(
    shipment_id: int, answer: dict[str, Any] | None, error: str = ""
) -> ShipmentPostage:
    postage = lock_postage(shipment_id)
    if postage.status in LABEL_HELD:
        return postage  # a purchase (or void) started meanwhile: its rates stay
    if answer is None:
        postage.error = error[:500]
        postage.save(update_fields=["error", "updated_at"])
        return postage
    rates = sorted(
        (client.plain_rate(rate) for rate in answer.get("rates") or ()),
        key=lambda rate: client.decimal_or_none(rate["rate"]) or Decimal("Infinity"),
    )
    shipment = Shipment.objects.select_related("order").get(pk=shipment_id)
    settings = location_settings(shipment.location_id)
    preferred, missing = rate_for_order(rates, order=shipment.order, settings=settings)
    postage.easypost_shipment_id = answer.get("id", "")
    postage.rates = rates
    postage.rates_at = timezone.now()
    postage.rate_id = preferred["id"] if preferred else ""
    postage.status = ShipmentPostage.Status.RATED
    postage.error = (
        missing
        if rates
        else (client.messages_text(answer) or "EasyPost found no rate for this parcel.")
    )
    postage.save()
    if rates and missing:
        order_events.order_event_fulfillment(
            order=shipment.order,
            actor=None,
            message=f"Shipment {shipment.number}: {missing}",
            data={"shipment": shipment.number, "postage_missing": True},
        )
    return postage


def rate_for_order(
    rates: Sequence[dict[str, Any]],
    *,
    order: Order,
    settings: LocationPostage | None,
) -> tuple[dict[str, Any] | None, str]:
    """Return the rate the order's postage wishes pick, and why its carrier and
    service were not (empty when they were, or when it has none).

    The order's carrier + service come first (the cheapest such rate); then
    its rate preference; then the shipping location's preference.
    """
    missing = ""
    if order.postage_carrier and order.postage_service:
        wanted = (order.postage_carrier.lower(), order.postage_service.lower())
        matching = [
            rate
            for rate in rates
            if (rate.get("carrier", "").lower(), rate.get("service", "").lower())
            == wanted
        ]
        if matching:
            return min(matching, key=_price), ""
        fallback = (
            "its rate preference"
            if order.rate_preference
            else "the location's preference"
            if settings and settings.rate_choice
            else "a person"
        )
        missing = (
            f"EasyPost offered no {order.postage_carrier} {order.postage_service} "
            f"rate, which order {order.number} asks for; the rate is picked by "
            f"{fallback} instead."
        )
    choice = order.rate_preference or (settings.rate_choice if settings else "")
    if not choice:
        return None, missing
    preferred = rate_preferred(
        rates,
        choice=choice,
        preferred_carriers=settings.preferred_carrier_list if settings else (),
        by_date=order.requested_delivery_date,
    )
    return preferred, missing


def _price(rate: dict[str, Any]) -> Decimal:
    return client.decimal_or_none(rate.get("rate")) or Decimal("Infinity")


def shipment_rates_fetch(*, shipment_id: int) -> ShipmentPostage:
    """Fetch a packed shipment's rates from EasyPost and record them (with
    the rate the location's preference picks). EasyPost's refusal is kept
    on the postage record and raised as `PostageError`."""
    plan = _rating_plan(shipment_id)
    try:
        answer = client.shipment_create(plan.api_key, **plan.params)
    except client.PostageError as error:
        _rating_record(shipment_id, None, str(error))
        raise
    return _rating_record(shipment_id, answer)


@app.task()
def shipment_rates_fetch_task(shipment_id: int) -> str:
    try:
        postage = shipment_rates_fetch(shipment_id=shipment_id)
    except FulfillmentError as error:
        return str(error)
    count = len(postage.rates)
    return ngettext("%(count)d rate", "%(count)d rates", count) % {"count": count}


def shipments_rates_fetch(
    *, shipment_ids: Sequence[int], workers: int | None = None
) -> list[str]:
    """Fetch the rates of many packed shipments, at most `workers` calls in
    flight; return the problems (the others are recorded)."""
    problems: list[str] = []
    plans = []
    for shipment_id in shipment_ids:
        try:
            plans.append(_rating_plan(shipment_id))
        except FulfillmentError as error:
            problems.append(str(error))

    def call(plan: RatingPlan) -> dict[str, Any]:
        return client.shipment_create(plan.api_key, **plan.params)

    def record(plan: RatingPlan, answer, error) -> None:
        _rating_record(plan.shipment_id, answer, str(error) if error else "")
        if error:
            problems.append(str(error))

    run_bounded(plans, call, record, workers or concurrency())
    return problems
