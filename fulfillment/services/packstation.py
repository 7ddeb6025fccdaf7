"""The scan-to-verify pack station: a packer opens a shipment by its slip's
barcode, scans every unit, and one key packs it, has its label bought or
takes its tracking number, and ships it.

Scans are stored per shipment (`PackScan`), so a refresh or a second packer
never counts twice; the shipment's row lock serialises the scans, and a
`PackClaim` keeps the shipment at one station until another takes it over
explicitly. Every service locks in the global order: order, then shipment.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django_tasks import task

from core.exceptions import DomainError
from core.sequences import format_number, parse_number
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError, PackStationBusyError
from fulfillment.locks import lock_shipment, lock_shipment_at_station
from fulfillment.models import (
    Box,
    Carrier,
    PackClaim,
    PackScan,
    Shipment,
    ShipmentLine,
    ShipmentPostage,
    ShipmentStatus,
)
from fulfillment.postage.rates import location_settings, shipment_parcel_measure
from fulfillment.services.packing import _pack
from fulfillment.services.picking import SHIPMENT_PREFIX
from fulfillment.services.shipping import _ship, _shipment_split
from inventory.models import StockLevel
from orders.locks import lock_order

S = ShipmentStatus
K = PackScan.Kind
MULTIPLIED = re.compile(r"^\s*(\d{1,4})\s*\*\s*(.*)$")
STATION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WEIGHT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(kg|g|lb|lbs|oz)?\s*$", re.IGNORECASE)
GRAMS_PER = {"g": 1, "kg": 1000, "lb": 453.59237, "lbs": 453.59237, "oz": 28.349523}
MAX_MULTIPLE = 999


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to one scan: accepted or refused (and why), and the
    shipment's lines as they are now."""

    accepted: bool
    message: str
    state: dict[str, Any]


# ---- reading


def _holder(claim: PackClaim) -> str:
    who = claim.user.get_username() if claim.user else "someone"
    since = date_format(timezone.localtime(claim.opened_at), "H:i")
    return f"{who} (station {claim.station}, since {since})"


def _lines(shipment: Shipment) -> list[ShipmentLine]:
    """Return the shipment's lines with their product, the units scanned so
    far (`scanned_units`, accepted item scans) and the pick bin, in one query."""
    scanned = (
        PackScan.objects.filter(
            shipment_id=OuterRef("shipment_id"),
            order_line_id=OuterRef("order_line_id"),
            kind=K.ITEM,
            accepted=True,
        )
        .order_by()
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    bins = StockLevel.objects.filter(
        location_id=shipment.location_id,
        product_id=OuterRef("order_line__product_id"),
    ).values("bin")[:1]
    return list(
        shipment.lines.select_related("order_line__product")
        .annotate(
            scanned_units=Coalesce(Subquery(scanned), 0),
            pick_bin=Subquery(bins),
        )
        .order_by("pk")
    )


def _scanned(lines: list[ShipmentLine]) -> dict[int, int]:
    return {line.order_line_id: line.scanned_units for line in lines}


def pack_state(*, shipment: Shipment, lines=None, scanned=None) -> dict[str, Any]:
    """Return what the station shows of a shipment: its lines (expected,
    scanned, bin), the pre-filled weight and the ways it can leave."""
    lines = _lines(shipment) if lines is None else lines
    scanned = _scanned(lines) if scanned is None else scanned
    rows = [
        {
            "order_line": line.order_line_id,
            "sku": line.order_line.sku,
            "name": line.order_line.name,
            "barcode": line.order_line.product.barcode,
            "bin": line.pick_bin or "",
            "expected": line.quantity,
            "scanned": min(scanned.get(line.order_line_id, 0), line.quantity),
        }
        for line in lines
    ]
    expected = sum(row["expected"] for row in rows)
    done = sum(row["scanned"] for row in rows)
    return {
        "shipment": {
            "id": shipment.pk,
            "number": shipment.number,
            "order": shipment.order.number,
            "status": shipment.status,
            "status_label": shipment.get_status_display(),
            "location": shipment.location.code,
        },
        "lines": rows,
        "units_expected": expected,
        "units_scanned": done,
        "complete": bool(rows) and done == expected,
        "weight_g": sum(
            line.quantity * line.order_line.product.weight_g for line in lines
        ),
    }


def station_options(*, location_id: int) -> dict[str, Any]:
    """Return how a location's shipments leave the station: its boxes, the
    carriers, whether labels are bought through EasyPost, the label format."""
    settings = location_settings(location_id)
    carrier = settings.carrier if settings else None
    account = getattr(carrier, "account", None) if carrier else None
    easypost = bool(account is not None and account.is_easypost)
    return {
        "boxes": [
            {"id": box.pk, "name": str(box), "weight_g": box.weight_g}
            for box in Box.objects.filter(location_id=location_id, active=True)
        ],
        "carriers": [
            {"id": c.pk, "name": c.name}
            for c in Carrier.objects.filter(active=True).order_by("name")
        ],
        "carrier": carrier.pk if carrier else None,
        "easypost": easypost,
        "label_format": settings.label_format if settings else "PDF",
    }


def shipment_find(code: str) -> Shipment:
    """Return the shipment a slip's barcode (or its typed number) names."""
    code = (code or "").strip()
    if not code:
        raise FulfillmentError("Scan the packing slip's barcode or type its number.")
    # SH-000123, sh-123, SH000123, or the bare digits: one indexed lookup.
    number = parse_number(SHIPMENT_PREFIX, code) or (
        format_number(SHIPMENT_PREFIX, int(code))
        if code.isdigit() and len(code) <= 12
        else code.upper()
    )
    shipment = (
        Shipment.objects.select_related("order", "location")
        .filter(number=number)
        .first()
    )
    if shipment is None:
        raise FulfillmentError(
            f"No shipment {code}: scan the barcode at the top of the packing slip."
        )
    return shipment


def check_station(station: str) -> str:
    if not STATION.match(station or ""):
        raise FulfillmentError(
            "This page has no station name; reload the pack station page."
        )
    return station


def _check_claim(shipment: Shipment, station: str) -> PackClaim:
    try:
        claim = shipment.pack_claim
    except PackClaim.DoesNotExist:
        claim = None
    if claim is None:
        raise PackStationBusyError(
            f"Shipment {shipment.number} is not open at this station; scan its "
            "slip again."
        )
    if claim.station != station:
        raise PackStationBusyError(
            f"Shipment {shipment.number} was taken over by {_holder(claim)}; "
            "nothing was counted here.",
            holder=_holder(claim),
        )
    return claim


def _check_packable(shipment: Shipment) -> None:
    if shipment.status != S.PICKING:
        raise FulfillmentError(
            f"Shipment {shipment.number} is {shipment.get_status_display()}: only "
            "shipments on a pick list are packed here."
            + (
                " Put its order on a pick list first."
                if shipment.status == S.PENDING
                else ""
            )
        )


def _record(
    *, shipment: Shipment, kind: str, actor: Actor, station: str, **fields
) -> PackScan:
    return PackScan.objects.create(
        shipment=shipment,
        kind=kind,
        station=station,
        user=acting_user(actor),
        **fields,
    )


# ---- opening and taking over


@transaction.atomic
def packstation_open(
    *, code: str, actor: Actor, station: str, take_over: bool = False
) -> dict[str, Any]:
    """Open a shipment at this station: it is claimed here, or refused with
    `PackStationBusyError` when another station has it (unless `take_over`)."""
    station = check_station(station)
    found = shipment_find(code)
    lock_order(found.order_id)
    shipment = lock_shipment(found.pk)
    _check_packable(shipment)
    claim = PackClaim.objects.select_related("user").filter(shipment=shipment).first()
    kind = K.OPEN
    if claim is not None and claim.station != station:
        if not take_over:
            raise PackStationBusyError(
                f"Shipment {shipment.number} is open at {_holder(claim)}. Take it "
                "over to go on packing it here.",
                holder=_holder(claim),
            )
        kind = K.TAKE_OVER
    if claim is None or claim.station != station:
        PackClaim.objects.update_or_create(
            shipment=shipment,
            defaults={
                "station": station,
                "user": acting_user(actor),
                "opened_at": timezone.now(),
            },
        )
        _record(
            shipment=shipment,
            kind=kind,
            actor=actor,
            station=station,
            code=shipment.number,
            reason=f"from {_holder(claim)}" if kind == K.TAKE_OVER else "",
        )
    return pack_state(shipment=shipment)


def packstation_state(*, shipment_id: int, station: str) -> dict[str, Any]:
    """Return the station's view of a shipment still open here (after a
    refresh); refuse when another station took it over."""
    shipment = Shipment.objects.select_related("order", "location").get(pk=shipment_id)
    _check_claim(shipment, check_station(station))
    return pack_state(shipment=shipment)


# ---- scanning


def scan_parse(code: str) -> tuple[int, str]:
    code = (code or "").strip()
    count = 1
    match = MULTIPLIED.match(code)
    if match:
        count, code = int(match.group(1)), match.group(2).strip()
        if not 1 <= count <= MAX_MULTIPLE:
            raise FulfillmentError(
                f"A multiple counts 1 to {MAX_MULTIPLE} units, not {count}."
            )
    if not code:
        raise FulfillmentError("Scan an item's barcode or type its SKU.")
    return count, code[:100]


def scan_matches(line: ShipmentLine, code: str) -> bool:
    product = line.order_line.product
    return (
        (product.barcode and product.barcode.strip() == code)
        or product.sku.lower() == code.lower()
        or line.order_line.sku.lower() == code.lower()
    )


@transaction.atomic
def packstation_scan(
    *, shipment_id: int, code: str, actor: Actor, station: str
) -> ScanOutcome:
    """Count one scanned item (`5*CODE` counts five) on a shipment open at
    this station. An item not in the shipment, or more units than expected,
    is refused, recorded and not counted."""
    station = check_station(station)
    shipment = lock_shipment_at_station(shipment_id)
    _check_claim(shipment, station)
    _check_packable(shipment)
    raw = (code or "").strip()[:100]
    lines = _lines(shipment)
    scanned = _scanned(lines)
    try:
        count, code = scan_parse(raw)
    except FulfillmentError as error:
        return _refuse(shipment, raw, str(error), actor, station, lines, scanned)
    matching = [line for line in lines if scan_matches(line, code)]
    if not matching:
        return _refuse(
            shipment,
            raw,
            f"{code} is not in shipment {shipment.number}: put it aside.",
            actor,
            station,
            lines,
            scanned,
        )
    line = next(
        (m for m in matching if scanned.get(m.order_line_id, 0) < m.quantity),
        matching[0],
    )
    already = scanned.get(line.order_line_id, 0)
    if already + count > line.quantity:
        left = max(line.quantity - already, 0)
        return _refuse(
            shipment,
            raw,
            f"Too many {line.order_line.sku}: {line.quantity} expected, {already} "
            f"scanned, {count} more refused"
            + (f" (only {left} left)." if left else "; take it out of the box."),
            actor,
            station,
            lines,
            scanned,
            order_line_id=line.order_line_id,
        )
    _record(
        shipment=shipment,
        kind=K.ITEM,
        actor=actor,
        station=station,
        code=raw,
        order_line_id=line.order_line_id,
        quantity=count,
    )
    scanned[line.order_line_id] = already + count
    return ScanOutcome(
        accepted=True,
        message=f"{count} × {line.order_line.sku} ({already + count} of "
        f"{line.quantity}).",
        state=pack_state(shipment=shipment, lines=lines, scanned=scanned),
    )


def _refuse(
    shipment, raw, reason, actor, station, lines, scanned, order_line_id=None
) -> ScanOutcome:
    _record(
        shipment=shipment,
        kind=K.ITEM,
        actor=actor,
        station=station,
        code=raw,
        order_line_id=order_line_id,
        accepted=False,
        reason=reason[:300],
    )
    return ScanOutcome(
        accepted=False,
        message=reason,
        state=pack_state(shipment=shipment, lines=lines, scanned=scanned),
    )


# ---- item missing: ship short


@transaction.atomic
def packstation_missing(
    *, shipment_id: int, actor: Actor, station: str
) -> dict[str, Any]:
    """Ship short what is scanned: the units not scanned move to a new
    pending shipment where they stay reserved for a later pick list."""
    station = check_station(station)
    found = Shipment.objects.only("order_id").get(pk=shipment_id)
    lock_order(found.order_id)
    shipment = lock_shipment_at_station(shipment_id)
    _check_claim(shipment, station)
    _check_packable(shipment)
    lines = _lines(shipment)
    scanned = _scanned(lines)
    leaving = {
        line.order_line_id: min(scanned.get(line.order_line_id, 0), line.quantity)
        for line in lines
    }
    rest = {
        line.order_line_id: line.quantity - leaving[line.order_line_id]
        for line in lines
        if line.quantity > leaving[line.order_line_id]
    }
    if not rest:
        raise FulfillmentError(
            f"Every unit of shipment {shipment.number} is scanned: nothing is "
            "missing. Pack it."
        )
    if not any(leaving.values()):
        raise FulfillmentError(
            f"Nothing of shipment {shipment.number} is scanned yet, so nothing "
            "could ship: scan what is there first, or leave it on its pick list."
        )
    remainder = _shipment_split(
        shipment=shipment, lines=lines, leaving=leaving, rest=rest, actor=actor
    )
    short = {line.order_line_id: line.order_line.sku for line in lines}
    _record(
        shipment=shipment,
        kind=K.MISSING,
        actor=actor,
        station=station,
        code=remainder.number,
        quantity=sum(rest.values()),
        reason="Missing: "
        + ", ".join(f"{units} × {short[line_id]}" for line_id, units in rest.items())
        + f"; kept reserved in shipment {remainder.number}.",
    )
    state = pack_state(shipment=shipment)
    state["remainder"] = remainder.number
    return state


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
    packages: int,
    weight: Any,
    box_id: int | None = None,
    carrier_id: int | None = None,
    tracking_number: str = "",
) -> PackOutcome:
    """Pack a fully scanned shipment and send it off: a location buying
    through EasyPost gets its label bought in the background (the shipment
    ships when it is bought); otherwise it ships now with the carrier and
    the scanned tracking number. Nothing is done when any of it is refused."""
    station = check_station(station)
    found = Shipment.objects.only("order_id").get(pk=shipment_id)
    order = lock_order(found.order_id)
    shipment = lock_shipment_at_station(shipment_id)
    claim = _check_claim(shipment, station)
    _check_packable(shipment)
    state = pack_state(shipment=shipment)
    if not state["complete"]:
        missing = state["units_expected"] - state["units_scanned"]
        raise FulfillmentError(
            f"Shipment {shipment.number}: {missing} unit(s) are not scanned yet. "
            "Scan them, or press Item missing to ship short."
        )
    if not isinstance(packages, int) or not 1 <= packages <= 99:
        raise FulfillmentError(
            f"Shipment {shipment.number}: parcels must be a number from 1 to 99."
        )
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
    order = _pack(
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
        transaction.on_commit(
            lambda: packstation_label_task.enqueue(
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
        _ship(
            order=order,
            shipment=shipment,
            actor=actor,
            carrier=carrier,
            tracking_number=(tracking_number or "").strip(),
        )
        message = f"Shipment {shipment.number} packed and shipped."
    _record(
        shipment=shipment,
        kind=K.PACK,
        actor=actor,
        station=station,
        code=shipment.number,
        quantity=state["units_scanned"],
        reason=f"{packages} parcel(s), {weight_g} g"
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
    shipped = shipment.status not in (S.PENDING, S.PICKING, S.PACKED)
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
    from fulfillment.postage.rates import shipment_rates_fetch
    from fulfillment.services.postage import shipment_postage_buy

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


@task()
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


# ---- the dashboard


def packers_today(*, since) -> list[tuple[str, int, int]]:
    """Return (packer, shipments packed, scans refused) per packer since a
    moment (the start of today): one query on the partial index of packs and
    refused scans."""
    rows = (
        PackScan.objects.filter(
            Q(kind=K.PACK) | Q(accepted=False), created_at__gte=since
        )
        .values_list("user__username")
        .annotate(
            packs=Count("pk", filter=Q(kind=K.PACK)),
            refused=Count("pk", filter=Q(accepted=False)),
        )
        .order_by("user__username")
    )
    return [(name or "(system)", packs, refused) for name, packs, refused in rows]
