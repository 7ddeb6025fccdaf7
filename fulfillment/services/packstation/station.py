"""What the pack station shows and checks: a shipment's lines with the
units scanned and their bins, the station's options, finding a shipment by
its slip, the station's claim on it, and the scan record.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format

from core.sequences import format_number, parse_number
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError, PackStationBusyError
from fulfillment.handover import SHIPMENT_PREFIX
from fulfillment.models import (
    Box,
    Carrier,
    PackClaim,
    PackScan,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from fulfillment.postage.rates import location_settings
from inventory.models import StockLevel

MULTIPLIED = re.compile(r"^\s*(\d{1,4})\s*\*\s*(.*)$")
STATION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WEIGHT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(kg|g|lb|lbs|oz)?\s*$", re.IGNORECASE)
GRAMS_PER = {"g": 1, "kg": 1000, "lb": 453.59237, "lbs": 453.59237, "oz": 28.349523}
MAX_MULTIPLE = 999
# A GTIN has 8 to 14 digits; no weight in grams or count of parcels has that
# many, so such a run of digits in those boxes is an item's barcode.
GTIN_LIKE = re.compile(r"^\d{8,14}$")


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to one scan: accepted or refused (and why), and the
    shipment's lines as they are now."""

    accepted: bool
    message: str
    state: dict[str, Any]
    # The number of another shipment whose packing slip was scanned as an item.
    slip: str = ""


# ---- reading


def claim_holder(claim: PackClaim) -> str:
    who = claim.user.get_username() if claim.user else "someone"
    since = date_format(timezone.localtime(claim.opened_at), "H:i")
    return f"{who} (station {claim.station}, since {since})"


def shipment_lines_scanned(shipment: Shipment) -> list[ShipmentLine]:
    """Return the shipment's lines with their product, the units scanned so
    far (`scanned_units`, accepted item scans) and the pick bin, in one query."""
    scanned = (
        PackScan.objects.filter(
            shipment_id=OuterRef("shipment_id"),
            order_line_id=OuterRef("order_line_id"),
            kind=PackScan.Kind.ITEM,
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


def item_like(value: Any, lines: list[ShipmentLine]) -> str:
    """Return what an entry in the weight or parcels box names when it reads
    like an item scan (a line's barcode or SKU, `5*` before a code, or the
    digits of a GTIN), else ""."""
    text = str(value if value is not None else "").strip()
    if not text:
        return ""
    match = MULTIPLIED.match(text)
    code = match.group(2).strip() if match else text
    for line in lines:
        product = line.order_line.product
        if code.lower() in (
            product.sku.lower(),
            line.order_line.sku.lower(),
            (product.barcode or "").strip().lower() or None,
        ):
            return line.order_line.sku
    if match or GTIN_LIKE.match(code):
        return code
    return ""


def scanned_by_line(lines: list[ShipmentLine]) -> dict[int, int]:
    return {line.order_line_id: line.scanned_units for line in lines}


def pack_state(*, shipment: Shipment, lines=None, scanned=None) -> dict[str, Any]:
    """Return what the station shows of a shipment: its lines (expected,
    scanned, bin), the pre-filled weight and the ways it can leave."""
    lines = shipment_lines_scanned(shipment) if lines is None else lines
    scanned = scanned_by_line(lines) if scanned is None else scanned
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
            {"id": c.pk, "name": c.name, "services": c.service_list}
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


def claim_check(shipment: Shipment, station: str) -> PackClaim:
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
            f"Shipment {shipment.number} was taken over by {claim_holder(claim)}; "
            "nothing was counted here.",
            holder=claim_holder(claim),
        )
    return claim


def packable_check(shipment: Shipment) -> None:
    if shipment.status != ShipmentStatus.PICKING:
        raise FulfillmentError(
            f"Shipment {shipment.number} is {shipment.get_status_display()}: only "
            "shipments on a pick list are packed here."
            + (
                " Put its order on a pick list first."
                if shipment.status == ShipmentStatus.PENDING
                else ""
            )
        )


def pack_scan_record(
    *, shipment: Shipment, kind: str, actor: Actor, station: str, **fields
) -> PackScan:
    return PackScan.objects.create(
        shipment=shipment,
        kind=kind,
        station=station,
        user=acting_user(actor),
        **fields,
    )


# ---- the dashboard


def packers_today(*, since) -> list[tuple[str, int, int]]:
    """Return (packer, shipments packed, scans refused) per packer since a
    moment (the start of today): one query on the partial index of packs and
    refused scans."""
    rows = (
        PackScan.objects.filter(
            Q(kind=PackScan.Kind.PACK) | Q(accepted=False), created_at__gte=since
        )
        .values_list("user__username")
        .annotate(
            packs=Count("pk", filter=Q(kind=PackScan.Kind.PACK)),
            refused=Count("pk", filter=Q(accepted=False)),
        )
        .order_by("user__username")
    )
    return [(name or "(system)", packs, refused) for name, packs, refused in rows]
