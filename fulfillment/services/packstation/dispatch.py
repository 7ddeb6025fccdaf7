"""Packing a fully scanned shipment and sending it off: shipped now with
the carrier and the scanned tracking number, or its label bought in the
background through EasyPost (the shipment ships when it is bought).
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import ngettext

from core.exceptions import DomainError
from core.tasks import app, defer_in_transaction
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError
from fulfillment.handover import shipment_ship_locked
from fulfillment.locks import lock_shipment_at_station
from fulfillment.models import (
    Box,
    Carrier,
    PackScan,
    Shipment,
    ShipmentPostage,
    ShipmentStatus,
)
from fulfillment.postage.rates import shipment_parcel_measure
from fulfillment.services.packing import shipment_pack_locked
from fulfillment.services.packstation.station import (
    GRAMS_PER,
    WEIGHT,
    check_station,
    claim_check,
    item_like,
    pack_scan_record,
    pack_state,
    packable_check,
    shipment_lines_scanned,
    station_options,
)
from orders.locks import lock_order

# ---- packing and shipping


def weight_parse(value: Any) -> int:
    """Return grams from what a person or a scale typed: `1250`, `1250 g`,
    `1.25 kg`, `2.5 lb`."""
    if isinstance(value, int) and not isinstance(value, bool):
        grams = value
    else:
        match = WEIGHT.match(str(value or ""))
        if not match:
            raise FulfillmentError(
                f"Weight {str(value)[:20]!r} is not a weight: type grams (1250) "
                "or kilograms with the unit (1.25 kg)."
            )
        number = float(match.group(1).replace(",", "."))
        grams = round(number * GRAMS_PER[(match.group(2) or "g").lower()])
    if not 0 <= grams <= 1_000_000:
        raise FulfillmentError("Weight must be between 0 and 1000 kg.")
    return grams


def parcels_parse(value: Any) -> int:
    """Return the number of parcels typed (1 to 99), else refuse."""
    text = str(value if value is not None else "").strip()
    if isinstance(value, int) and not isinstance(value, bool):
        parcels = value
    elif text.isdigit() and len(text) <= 2:
        parcels = int(text)
    else:
        parcels = 0
    if not 1 <= parcels <= 99:
        raise FulfillmentError("Parcels must be a number from 1 to 99.")
    return parcels


def _not_an_item(shipment: Shipment, box: str, value: Any, lines) -> None:
    """Refuse an item's code that a scanner typed into the weight or parcels
    box (a second read of the last item lands there)."""
    code = item_like(value, lines)
    if code:
        raise FulfillmentError(
            f"Shipment {shipment.number}: {str(value).strip()[:40]!r} in the "
            f"{box} box is a scan of {code}, not the {box}; nothing was packed. "
            "Take the extra item out of the box and type the "
            f"{box} again."
        )


@dataclass(frozen=True)
class PackOutcome:
    number: str
    shipment_id: int
    status: str
    buying: bool
    message: str


@transaction.atomic
def packstation_pack(
    *,
    shipment_id: int,
    actor: Actor,
    station: str,
    packages: Any,
    weight: Any,
    box_id: int | None = None,
    carrier_id: int | None = None,
    service: str = "",
    tracking_number: str = "",
) -> PackOutcome:
    """Pack a fully scanned shipment and send it off: a location buying
    through EasyPost gets its label bought in the background (the shipment
    ships when it is bought); otherwise it ships now with the carrier and
    the scanned tracking number and the chosen service. An item's code in
    the weight or parcels box is refused. Nothing is done when any of it is
    refused."""
    station = check_station(station)
    found = Shipment.objects.only("order_id").get(pk=shipment_id)
    order = lock_order(found.order_id)
    shipment = lock_shipment_at_station(shipment_id)
    claim = claim_check(shipment, station)
    packable_check(shipment)
    lines = shipment_lines_scanned(shipment)
    state = pack_state(shipment=shipment, lines=lines)
    if not state["complete"]:
        missing = state["units_expected"] - state["units_scanned"]
        raise FulfillmentError(
            ngettext(
                "Shipment %(shipment)s: %(count)d unit is not scanned yet. "
                "Scan it, or press Item missing to ship short.",
                "Shipment %(shipment)s: %(count)d units are not scanned yet. "
                "Scan them, or press Item missing to ship short.",
                missing,
            )
            % {"shipment": shipment.number, "count": missing}
        )
    _not_an_item(shipment, "weight", weight, lines)
    _not_an_item(shipment, "parcels", packages, lines)
    try:
        packages = parcels_parse(packages)
    except FulfillmentError as error:
        raise FulfillmentError(f"Shipment {shipment.number}: {error}") from None
    weight_g = weight_parse(weight)
    box = None
    if box_id:
        box = Box.objects.filter(
            pk=box_id, location_id=shipment.location_id, active=True
        ).first()
        if box is None:
            raise FulfillmentError(
                f"That box is not one of {shipment.location.code}'s boxes; choose "
                "another."
            )
    options = station_options(location_id=shipment.location_id)
    order = shipment_pack_locked(
        order=order,
        shipment=shipment,
        actor=actor,
        packages=packages,
        weight_g=weight_g,
    )
    if box is not None:
        shipment_parcel_measure(shipment=shipment, box=box)
    if options["easypost"]:
        actor_id = getattr(acting_user(actor), "pk", None)
        defer_in_transaction(
            lambda: packstation_label_task.defer(
                shipment_id=shipment.pk, actor_id=actor_id
            )
        )
        message = f"Shipment {shipment.number} packed; buying its label."
    else:
        carrier = None
        if carrier_id:
            carrier = Carrier.objects.filter(pk=carrier_id).first()
            if carrier is None:
                raise FulfillmentError("That carrier no longer exists; choose another.")
        shipment_ship_locked(
            order=order,
            shipment=shipment,
            actor=actor,
            carrier=carrier,
            service=(service or "").strip(),
            tracking_number=(tracking_number or "").strip(),
        )
        message = f"Shipment {shipment.number} packed and shipped."
    pack_scan_record(
        shipment=shipment,
        kind=PackScan.Kind.PACK,
        actor=actor,
        station=station,
        code=shipment.number,
        quantity=state["units_scanned"],
        reason=f"{packages} {ngettext('parcel', 'parcels', packages)}, {weight_g} g"
        + (f", box {box.name}" if box else ""),
    )
    claim.delete()
    return PackOutcome(
        number=shipment.number,
        shipment_id=shipment.pk,
        status=shipment.status,
        buying=options["easypost"],
        message=message,
    )


def label_progress(*, shipment_id: int) -> dict[str, Any]:
    """Return where a packed shipment's label is: bought and shipped, still
    being bought, or refused (EasyPost's message)."""
    shipment = Shipment.objects.get(pk=shipment_id)
    postage = ShipmentPostage.objects.filter(shipment_id=shipment_id).first()
    shipped = shipment.status not in (
        ShipmentStatus.PENDING,
        ShipmentStatus.PICKING,
        ShipmentStatus.PACKED,
    )
    error = postage.error if postage is not None else ""
    return {
        "number": shipment.number,
        "status": shipment.status,
        "shipped": shipped,
        "tracking": shipment.tracking_number,
        "error": "" if shipped else error,
        "postage": postage.status if postage is not None else "",
    }


def _label_buy(shipment_id: int, actor: Actor) -> str:
    """Fetch rates when none are there yet, pick the location's preferred
    rate (else the cheapest) and buy; EasyPost's refusals stay on the postage."""
    # Imported here: buying pulls in the EasyPost client, which the station's
    # web requests never need.
    from fulfillment.postage.buying import shipment_postage_buy
    from fulfillment.postage.rates import shipment_rates_fetch

    postage = ShipmentPostage.objects.filter(shipment_id=shipment_id).first()
    if postage is None:
        return "no parcel recorded"
    if postage.status == ShipmentPostage.Status.BOUGHT:
        return "already bought"
    if postage.status == ShipmentPostage.Status.NEW or not postage.rates:
        postage = shipment_rates_fetch(shipment_id=shipment_id)
    rate_id = postage.rate_id or (postage.rates[0]["id"] if postage.rates else "")
    if not rate_id:
        return postage.error or "no rate"
    shipment = Shipment.objects.get(pk=shipment_id)
    shipment_postage_buy(shipment=shipment, actor=actor, rate_id=rate_id)
    return "bought"


@app.task()
def packstation_label_task(shipment_id: int, actor_id: int | None = None) -> str:
    """Buy the label of a shipment the pack station packed (background)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return _label_buy(shipment_id, actor)
    except DomainError as error:
        message = str(error)[:500]
        ShipmentPostage.objects.filter(shipment_id=shipment_id, error="").update(
            error=message
        )
        return message
