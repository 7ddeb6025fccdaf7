"""Pick confirmation, for locations that confirm picks
(`Location.confirm_picks`): the picker walks a pick list scanning the bin,
then the item, for each line (a shipment's order line); the list shows
what is picked and what is short, and confirming it ships the shorts
short (the rest stays reserved in a new pending shipment, as at the pack
station).

Scans are stored per pick list (`PickScan`), so a refresh never counts
twice. Everything that writes locks in the global order
(`fulfillment.locks.lock_pick_list_work`): confirming the orders, then the
shipments being picked, then the pick list; a scan or a short the shipments,
then the pick list, whose lock serialises them.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import ngettext
from django_fsm import can_proceed

from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError
from fulfillment.handover import shipment_split_rest
from fulfillment.locks import lock_pick_list_work
from fulfillment.models import (
    PickList,
    PickScan,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from fulfillment.services.packstation.scanning import scan_matches, scan_parse
from inventory.models import StockLevel


@dataclass(frozen=True)
class PickOutcome:
    """The answer to one scan: accepted or refused (and why), and the pick
    list as it is now."""

    accepted: bool
    message: str
    state: dict[str, Any]


# ---- reading


def _units(pick_list_id: int, kind: str) -> Subquery:
    return Coalesce(
        Subquery(
            PickScan.objects.filter(
                pick_list_id=pick_list_id,
                shipment_id=OuterRef("shipment_id"),
                order_line_id=OuterRef("order_line_id"),
                kind=kind,
                accepted=True,
            )
            .order_by()
            .values("order_line_id")
            .annotate(units=Sum("quantity"))
            .values("units")
        ),
        0,
    )


def _lines(pick_list: PickList, locked=None) -> list[ShipmentLine]:
    """Return the lines still to pick (shipments on the list, being picked,
    and among the `locked` ones when given), with their bin, units picked and
    units short, in one query, in walking order (bin, then SKU, then
    shipment)."""
    bins = StockLevel.objects.filter(
        location_id=pick_list.location_id,
        product_id=OuterRef("order_line__product_id"),
    ).values("bin")[:1]
    lines = (
        ShipmentLine.objects.filter(
            shipment__pick_list_id=pick_list.pk, shipment__status=ShipmentStatus.PICKING
        )
        .select_related("order_line__product", "shipment")
        .annotate(
            picked_units=_units(pick_list.pk, PickScan.Kind.ITEM),
            short_units=_units(pick_list.pk, PickScan.Kind.SHORT),
            pick_bin=Coalesce(Subquery(bins), Value("")),
        )
    )
    if locked is not None:
        lines = lines.filter(shipment_id__in=list(locked))
    return sorted(
        lines,
        key=lambda line: (
            line.pick_bin.lower(),
            line.order_line.sku,
            line.shipment.number,
        ),
    )


def _left(line: ShipmentLine) -> int:
    return max(line.quantity - line.picked_units - line.short_units, 0)


def _current_bin(pick_list: PickList) -> str:
    """Return the bin the picker last scanned on this list ("" for none)."""
    scan = (
        PickScan.objects.filter(
            pick_list=pick_list, kind=PickScan.Kind.BIN, accepted=True
        )
        .order_by("-created_at", "-pk")
        .values_list("bin", flat=True)
        .first()
    )
    return scan or ""


def _confirmed(pick_list: PickList) -> bool:
    return PickScan.objects.filter(
        pick_list=pick_list, kind=PickScan.Kind.CONFIRM
    ).exists()


def _next_line(lines: list[ShipmentLine], bin_code: str) -> ShipmentLine | None:
    """The line the picker is on: the first one left in the scanned bin,
    else the first one left."""
    open_lines = [line for line in lines if _left(line)]
    in_bin = [line for line in open_lines if _same_bin(line.pick_bin, bin_code)]
    return (in_bin or open_lines or [None])[0]


def _same_bin(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def pick_state(
    *, pick_list: PickList, lines=None, bin_code=None, confirmed=None
) -> dict[str, Any]:
    """Return what the confirmation page shows: each line (bin, expected,
    picked, short), the totals, the scanned bin and the line the picker is on."""
    lines = _lines(pick_list) if lines is None else lines
    bin_code = _current_bin(pick_list) if bin_code is None else bin_code
    confirmed = _confirmed(pick_list) if confirmed is None else confirmed
    current = _next_line(lines, bin_code)
    rows = [
        {
            "key": f"{line.shipment_id}-{line.order_line_id}",
            "shipment_id": line.shipment_id,
            "order_line": line.order_line_id,
            "shipment": line.shipment.number,
            "sku": line.order_line.sku,
            "name": line.order_line.name,
            "barcode": line.order_line.product.barcode,
            "bin": line.pick_bin,
            "expected": line.quantity,
            "picked": min(line.picked_units, line.quantity),
            "short": line.short_units,
        }
        for line in lines
    ]
    expected = sum(row["expected"] for row in rows)
    picked = sum(row["picked"] for row in rows)
    short = sum(row["short"] for row in rows)
    return {
        "pick_list": {
            "id": pick_list.pk,
            "number": pick_list.number,
            "location": pick_list.location.code,
        },
        "lines": rows,
        "units_expected": expected,
        "units_picked": picked,
        "units_short": short,
        "bin": bin_code,
        "current": (
            f"{current.shipment_id}-{current.order_line_id}" if current else ""
        ),
        "complete": bool(rows) and picked + short >= expected,
        "confirmed": confirmed,
    }


def pick_list_progress(*, pick_list: PickList) -> dict[str, int]:
    """Return the units expected, picked and short of a pick list (one query),
    for the pick list's page."""
    lines = _lines(pick_list)
    return {
        "expected": sum(line.quantity for line in lines),
        "picked": sum(min(line.picked_units, line.quantity) for line in lines),
        "short": sum(line.short_units for line in lines),
    }


def _load(pick_list_id: int) -> PickList:
    return _checked(PickList.objects.select_related("location").get(pk=pick_list_id))


def _checked(pick_list: PickList) -> PickList:
    if not pick_list.location.confirm_picks:
        raise FulfillmentError(
            f"Location {pick_list.location.code} does not confirm picks: pick "
            f"list {pick_list.number} is picked from its printed sheet. Turn on "
            "Confirm picks on the location to scan its pick lists."
        )
    return pick_list


def _load_locked(
    pick_list_id: int, *, orders: bool = False
) -> tuple[PickList, dict[int, Shipment]]:
    """Lock the pick list's work (`lock_pick_list_work`) and return the list
    and its locked shipments."""
    pick_list, shipments = lock_pick_list_work(pick_list_id, orders=orders)
    if pick_list is None:
        raise PickList.DoesNotExist
    return _checked(pick_list), shipments


def pick_confirm_state(*, pick_list_id: int) -> dict[str, Any]:
    """Return the confirmation page's view of a pick list (after a refresh)."""
    return pick_state(pick_list=_load(pick_list_id))


def _check_open(pick_list: PickList) -> None:
    if _confirmed(pick_list):
        raise FulfillmentError(
            f"Pick list {pick_list.number} is already confirmed: nothing more is "
            "counted on it."
        )


def _record(*, pick_list: PickList, kind: str, actor: Actor, **fields) -> PickScan:
    return PickScan.objects.create(
        pick_list=pick_list, kind=kind, user=acting_user(actor), **fields
    )


# ---- scanning


@transaction.atomic
def pick_confirm_scan(*, pick_list_id: int, code: str, actor: Actor) -> PickOutcome:
    """Take one scan on a pick list: a bin of the list selects it; then an
    item of a line in that bin counts one unit (`5*CODE` five). A wrong bin,
    a wrong item or more units than the line needs is refused, recorded and
    not counted. Lines whose product has no bin need no bin scan."""
    pick_list, shipments = _load_locked(pick_list_id)
    _check_open(pick_list)
    raw = (code or "").strip()[:100]
    lines = _lines(pick_list, shipments)
    bin_code = _current_bin(pick_list)

    def refuse(reason: str, line: ShipmentLine | None = None) -> PickOutcome:
        _record(
            pick_list=pick_list,
            kind=PickScan.Kind.ITEM,
            actor=actor,
            code=raw,
            bin=bin_code[:32],
            shipment_id=line.shipment_id if line else None,
            order_line_id=line.order_line_id if line else None,
            accepted=False,
            reason=reason[:300],
        )
        return PickOutcome(
            accepted=False,
            message=reason,
            state=pick_state(
                pick_list=pick_list, lines=lines, bin_code=bin_code, confirmed=False
            ),
        )

    try:
        count, item = scan_parse(raw)
    except FulfillmentError as error:
        return refuse(str(error))
    in_bin = [
        line
        for line in lines
        if not line.pick_bin or (bin_code and _same_bin(line.pick_bin, bin_code))
    ]
    matching = [line for line in in_bin if scan_matches(line, item)]
    if count == 1 and not matching:
        bin_lines = [line for line in lines if _same_bin(line.pick_bin, item)]
        if item and bin_lines:
            left = [line for line in bin_lines if _left(line)]
            if not left:
                return refuse(f"Bin {item}: nothing is left to pick there.")
            bin_code = bin_lines[0].pick_bin
            _record(
                pick_list=pick_list,
                kind=PickScan.Kind.BIN,
                actor=actor,
                code=raw,
                bin=bin_code[:32],
            )
            first = left[0]
            return PickOutcome(
                accepted=True,
                message=f"Bin {bin_code}: pick {_left(first)} × "
                f"{first.order_line.sku} for {first.shipment.number}.",
                state=pick_state(
                    pick_list=pick_list,
                    lines=lines,
                    bin_code=bin_code,
                    confirmed=False,
                ),
            )
    if not matching:
        elsewhere = [line for line in lines if scan_matches(line, item)]
        if elsewhere:
            where = elsewhere[0].pick_bin
            return refuse(
                f"Wrong bin: {item} is picked from bin {where}"
                + (f", not {bin_code}" if bin_code else "")
                + f". Scan bin {where} first.",
                elsewhere[0],
            )
        if not bin_code:
            nxt = _next_line(lines, "")
            return refuse(
                f"{item} is not a bin of pick list {pick_list.number}"
                + (f": scan bin {nxt.pick_bin} first." if nxt else ".")
            )
        return refuse(
            f"Wrong item: {item} is not on pick list {pick_list.number}; put it back."
        )
    line = next((m for m in matching if _left(m)), matching[0])
    left = _left(line)
    if count > left:
        return refuse(
            f"Too many {line.order_line.sku} for {line.shipment.number}: "
            f"{line.quantity} expected, {line.picked_units} picked"
            + (f", {line.short_units} short" if line.short_units else "")
            + f"; {count} more refused"
            + (f" (only {left} left)." if left else "; put it back."),
            line,
        )
    _record(
        pick_list=pick_list,
        kind=PickScan.Kind.ITEM,
        actor=actor,
        code=raw,
        bin=bin_code[:32],
        shipment_id=line.shipment_id,
        order_line_id=line.order_line_id,
        quantity=count,
    )
    line.picked_units += count
    return PickOutcome(
        accepted=True,
        message=f"{count} × {line.order_line.sku} for {line.shipment.number} "
        f"({line.picked_units} of {line.quantity}).",
        state=pick_state(
            pick_list=pick_list, lines=lines, bin_code=bin_code, confirmed=False
        ),
    )


@transaction.atomic
def pick_confirm_short(
    *, pick_list_id: int, shipment_id: int, order_line_id: int, actor: Actor
) -> PickOutcome:
    """Mark the units of a line not picked yet as short (none in the bin)."""
    pick_list, shipments = _load_locked(pick_list_id)
    _check_open(pick_list)
    lines = _lines(pick_list, shipments)
    line = next(
        (
            line
            for line in lines
            if line.shipment_id == shipment_id and line.order_line_id == order_line_id
        ),
        None,
    )
    if line is None:
        raise FulfillmentError(
            f"That line is not on pick list {pick_list.number} any more; reload."
        )
    left = _left(line)
    if not left:
        raise FulfillmentError(
            f"{line.order_line.sku} for {line.shipment.number} is fully picked or "
            "short already: nothing to mark short."
        )
    _record(
        pick_list=pick_list,
        kind=PickScan.Kind.SHORT,
        actor=actor,
        code=line.order_line.sku,
        bin=line.pick_bin[:32],
        shipment_id=line.shipment_id,
        order_line_id=line.order_line_id,
        quantity=left,
        reason=f"{left} × {line.order_line.sku} not found in bin "
        f"{line.pick_bin or '(none)'}.",
    )
    line.short_units += left
    return PickOutcome(
        accepted=True,
        message=f"{left} × {line.order_line.sku} for {line.shipment.number} "
        "marked short.",
        state=pick_state(pick_list=pick_list, lines=lines, confirmed=False),
    )


# ---- confirming


@dataclass(frozen=True)
class ConfirmOutcome:
    message: str
    remainders: list[str]
    untouched: list[str]
    state: dict[str, Any]


@transaction.atomic
def pick_confirm_finish(*, pick_list_id: int, actor: Actor) -> ConfirmOutcome:
    """Confirm a pick list once every unit is picked or short. Each shipment
    with short units ships short: what was not picked moves to a new pending
    shipment that stays reserved. A shipment of which nothing was picked
    stays on the list as it is (nothing of it could ship)."""
    pick_list, shipments = _load_locked(pick_list_id, orders=True)
    _check_open(pick_list)
    lines = _lines(pick_list, shipments)
    open_lines = [line for line in lines if _left(line)]
    if open_lines:
        units = sum(_left(line) for line in open_lines)
        first = open_lines[0]
        raise FulfillmentError(
            f"Pick list {pick_list.number}: {units} "
            f"{ngettext('unit', 'units', units)} on {len(open_lines)} "
            f"{ngettext('line', 'lines', len(open_lines))} "
            f"{ngettext('is', 'are', units)} neither picked nor short "
            f"(first: {first.order_line.sku} in bin {first.pick_bin or '(none)'}). "
            "Pick them, or mark them short."
        )
    by_shipment: dict[int, list[ShipmentLine]] = {}
    for line in lines:
        by_shipment.setdefault(line.shipment_id, []).append(line)
    remainders, untouched = [], []
    for shipment_id, group in sorted(by_shipment.items()):
        rest = {
            line.order_line_id: line.short_units for line in group if line.short_units
        }
        if not rest:
            continue
        # Read after the lock, the lines are of locked shipments being picked.
        shipment = shipments[shipment_id]
        leaving = {
            line.order_line_id: min(line.picked_units, line.quantity) for line in group
        }
        if not any(leaving.values()):
            untouched.append(shipment.number)
            continue
        remainder = shipment_split_rest(
            shipment=shipment, lines=group, leaving=leaving, rest=rest, actor=actor
        )
        remainders.append(remainder.number)
    _record(
        pick_list=pick_list,
        kind=PickScan.Kind.CONFIRM,
        actor=actor,
        code=pick_list.number,
        quantity=sum(min(line.picked_units, line.quantity) for line in lines),
        reason=(
            "Short picks kept reserved in " + ", ".join(remainders) + "."
            if remainders
            else "No short picks."
        )
        + (
            " Nothing picked of " + ", ".join(untouched) + ": left on the list."
            if untouched
            else ""
        ),
    )
    if can_proceed(pick_list.confirm_picked):
        pick_list.confirm_picked()
        pick_list.save(update_fields=["status", "updated_at"])
    message = f"Pick list {pick_list.number} confirmed."
    if remainders:
        message += (
            f" Short picks ship short; the rest stays reserved in "
            f"{', '.join(remainders)}."
        )
    if untouched:
        message += (
            f" Nothing of {', '.join(untouched)} was picked: it stays on the list "
            "until it is picked or cancelled."
        )
    return ConfirmOutcome(
        message=message,
        remainders=remainders,
        untouched=untouched,
        state=pick_state(pick_list=pick_list, confirmed=True),
    )
