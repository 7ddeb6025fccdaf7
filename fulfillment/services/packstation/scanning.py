"""Opening a shipment at a station (or taking it over), counting scanned
items, and shipping short what is missing.

Every service locks in the global order: order, then shipment.
"""

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import ngettext

from core.sequences import parse_number
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError, PackStationBusyError
from fulfillment.handover import SHIPMENT_PREFIX, shipment_split_rest
from fulfillment.locks import lock_shipment, lock_shipment_at_station
from fulfillment.models import (
    PackClaim,
    PackScan,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from fulfillment.services.packstation.station import (
    MAX_MULTIPLE,
    MULTIPLIED,
    ScanOutcome,
    check_station,
    claim_check,
    claim_holder,
    pack_scan_record,
    pack_state,
    packable_check,
    scanned_by_line,
    shipment_find,
    shipment_lines_scanned,
)
from orders import events as order_events
from orders.locks import lock_order

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
    packable_check(shipment)
    claim = PackClaim.objects.select_related("user").filter(shipment=shipment).first()
    kind = PackScan.Kind.OPEN
    if claim is not None and claim.station != station:
        if not take_over:
            raise PackStationBusyError(
                f"Shipment {shipment.number} is open at {claim_holder(claim)}. Take it "
                "over to go on packing it here.",
                holder=claim_holder(claim),
            )
        kind = PackScan.Kind.TAKE_OVER
    if claim is None or claim.station != station:
        PackClaim.objects.update_or_create(
            shipment=shipment,
            defaults={
                "station": station,
                "user": acting_user(actor),
                "opened_at": timezone.now(),
            },
        )
        pack_scan_record(
            shipment=shipment,
            kind=kind,
            actor=actor,
            station=station,
            code=shipment.number,
            reason=f"from {claim_holder(claim)}"
            if kind == PackScan.Kind.TAKE_OVER
            else "",
        )
    state = pack_state(shipment=shipment)
    state["short"] = short_to_undo(shipment)
    return state


def packstation_state(*, shipment_id: int, station: str) -> dict[str, Any]:
    """Return the station's view of a shipment still open here (after a
    refresh); refuse when another station took it over."""
    shipment = Shipment.objects.select_related("order", "location").get(pk=shipment_id)
    claim_check(shipment, check_station(station))
    state = pack_state(shipment=shipment)
    state["short"] = short_to_undo(shipment)
    return state


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
    claim_check(shipment, station)
    packable_check(shipment)
    raw = (code or "").strip()[:100]
    lines = shipment_lines_scanned(shipment)
    scanned = scanned_by_line(lines)
    try:
        count, code = scan_parse(raw)
    except FulfillmentError as error:
        return _refuse(shipment, raw, str(error), actor, station, lines, scanned)
    matching = [line for line in lines if scan_matches(line, code)]
    slip = parse_number(SHIPMENT_PREFIX, code) if count == 1 else None
    if not matching and slip is not None:
        return _slip_scanned(shipment, slip, lines, scanned)
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
    if all(scanned.get(each.order_line_id, 0) >= each.quantity for each in lines):
        return _refuse(
            shipment,
            raw,
            f"Over-scan: shipment {shipment.number} is complete, every unit is "
            f"scanned. This {line.order_line.sku} is one too many; take it out "
            "of the box, then type the weight.",
            actor,
            station,
            lines,
            scanned,
            order_line_id=line.order_line_id,
        )
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
    pack_scan_record(
        shipment=shipment,
        kind=PackScan.Kind.ITEM,
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


def _slip_scanned(shipment, number, lines, scanned) -> ScanOutcome:
    """Answer a packing slip scanned into the item box: its own slip is
    nothing to count; another shipment's is offered to open (the station asks
    first; this one stays open as it is). Nothing is counted or recorded."""
    state = pack_state(shipment=shipment, lines=lines, scanned=scanned)
    if number == shipment.number:
        return ScanOutcome(
            accepted=False,
            message=f"That is the packing slip of {shipment.number}, which is "
            "open: scan its items.",
            state=state,
        )
    if not Shipment.objects.filter(number=number).exists():
        return ScanOutcome(
            accepted=False,
            message=f"No shipment {number}: nothing was counted. Scan the item.",
            state=state,
        )
    return ScanOutcome(
        accepted=False,
        message=f"{number} is another shipment's packing slip. Open {number}? "
        f"{shipment.number} stays as it is, with "
        f"{state['units_scanned']} of {state['units_expected']} units scanned.",
        state=state,
        slip=number,
    )


def _refuse(
    shipment, raw, reason, actor, station, lines, scanned, order_line_id=None
) -> ScanOutcome:
    pack_scan_record(
        shipment=shipment,
        kind=PackScan.Kind.ITEM,
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
    claim_check(shipment, station)
    packable_check(shipment)
    lines = shipment_lines_scanned(shipment)
    scanned = scanned_by_line(lines)
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
    remainder = shipment_split_rest(
        shipment=shipment, lines=lines, leaving=leaving, rest=rest, actor=actor
    )
    short = {line.order_line_id: line.order_line.sku for line in lines}
    pack_scan_record(
        shipment=shipment,
        kind=PackScan.Kind.MISSING,
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
    state["short"] = remainder.number
    return state


def short_to_undo(shipment: Shipment) -> str:
    """Return the number of the shipment holding the units a ship-short of
    this one moved out, while that ship-short is not undone, else ""."""
    last = (
        PackScan.objects.filter(
            shipment=shipment, kind__in=[PackScan.Kind.MISSING, PackScan.Kind.UNSHORT]
        )
        .order_by("-created_at", "-pk")
        .only("kind", "code")
        .first()
    )
    return last.code if last is not None and last.kind == PackScan.Kind.MISSING else ""


@transaction.atomic
def packstation_short_undo(
    *, shipment_id: int, actor: Actor, station: str
) -> dict[str, Any]:
    """Undo a ship-short until the shipment is packed: the units moved to the
    pending shipment come back to this one (to be scanned), and that pending
    shipment is removed. Refused once the pending shipment is on a pick list."""
    station = check_station(station)
    found = Shipment.objects.only("order_id").get(pk=shipment_id)
    lock_order(found.order_id)
    shipment = lock_shipment_at_station(shipment_id)
    claim_check(shipment, station)
    packable_check(shipment)
    number = short_to_undo(shipment)
    if not number:
        raise FulfillmentError(
            f"Shipment {shipment.number} was not shipped short: nothing to undo."
        )
    remainder = (
        Shipment.objects.filter(number=number, order_id=shipment.order_id)
        .values_list("pk", flat=True)
        .first()
    )
    remainder = lock_shipment(remainder) if remainder is not None else None
    if (
        remainder is None
        or remainder.status != ShipmentStatus.PENDING
        or remainder.pick_list_id is not None
    ):
        where = remainder.get_status_display().lower() if remainder else "gone"
        raise FulfillmentError(
            f"The missing units of {shipment.number} went to shipment {number}, "
            f"which is {where} now: the ship-short can no longer be undone."
        )
    moved = {line.order_line_id: line.quantity for line in remainder.lines.all()}
    kept = set(shipment.lines.values_list("order_line_id", flat=True))
    for order_line_id, quantity in moved.items():
        if order_line_id in kept:
            shipment.lines.filter(order_line_id=order_line_id).update(
                quantity=F("quantity") + quantity
            )
        else:
            ShipmentLine.objects.create(
                shipment=shipment, order_line_id=order_line_id, quantity=quantity
            )
    remainder.delete()
    units = sum(moved.values())
    order_events.order_event_fulfillment(
        order=shipment.order,
        actor=actor,
        message=ngettext(
            "Ship-short of shipment {shipment} undone: its {units} missing unit "
            "is back in it, and shipment {removed} is removed.",
            "Ship-short of shipment {shipment} undone: its {units} missing units "
            "are back in it, and shipment {removed} is removed.",
            units,
        ).format(shipment=shipment.number, units=units, removed=number),
        data={"shipment": shipment.number, "removed": number},
    )
    pack_scan_record(
        shipment=shipment,
        kind=PackScan.Kind.UNSHORT,
        actor=actor,
        station=station,
        code=number,
        quantity=units,
        reason=ngettext(
            "{units} unit back from shipment {removed}.",
            "{units} units back from shipment {removed}.",
            units,
        ).format(units=units, removed=number),
    )
    state = pack_state(shipment=shipment)
    state["short"] = ""
    return state
