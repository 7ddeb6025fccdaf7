"""What the printed documents show: packing slips, shipping labels and pick
sheets.

These selectors return plain, picklable records (they travel to the
rendering processes) and use a fixed number of queries, whatever the number
of shipments or pick lists.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch
from django.db.models.functions import JSONObject

from fulfillment.models import (
    PickList,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from inventory.models import Location, StockLevel
from orders.addresses import PostalAddress, location_address, postal_address
from orders.models import Order, OrderLine


@dataclass(frozen=True)
class SlipLine:
    sku: str
    name: str
    quantity: int
    # The item's GTIN/EAN, printed as a barcode for the pack station.
    barcode: str = ""


@dataclass(frozen=True)
class OrderNote:
    """What the customer wrote to the shop: the note and its attributes (gift
    message, delivery instructions) as (name, value) pairs."""

    note: str = ""
    attributes: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.note or self.attributes)


def order_note(order: Order) -> OrderNote:
    """The order's note and note attributes, for a document."""
    return OrderNote(
        note=order.note,
        attributes=tuple(
            (str(a.get("name", "")), str(a.get("value", "")))
            for a in order.note_attributes or ()
        ),
    )


@dataclass(frozen=True)
class PackingSlip:
    shipment_number: str
    order_number: str
    channel: str
    channel_reference: str
    placed_on: date
    ship_to: PostalAddress
    ship_from: str
    lines: tuple[SlipLine, ...]
    # The order's lines that never ship (gift cards, digital and custom
    # items): listed so the customer is not looking for them in the parcel.
    not_shipped: tuple[SlipLine, ...] = ()
    note: OrderNote = OrderNote()

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class ShippingLabel:
    shipment_number: str
    order_number: str
    ship_from: PostalAddress
    ship_to: PostalAddress
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    weight_kg: str
    packages: int
    shipped_on: date | None


@dataclass(frozen=True)
class PickDestination:
    order_number: str
    shipment_number: str
    quantity: int


@dataclass(frozen=True)
class PickRow:
    sku: str
    name: str
    bin: str
    total: int
    destinations: tuple[PickDestination, ...]


@dataclass(frozen=True)
class PickSheet:
    number: str
    location: str
    created_on: date
    rows: tuple[PickRow, ...]
    shipments: int = 0
    orders: int = 0
    units: int = field(default=0)
    # (order number, note) of the sheet's orders with a note, by number.
    notes: tuple[tuple[str, OrderNote], ...] = ()


def _ship_from(location: Location) -> PostalAddress:
    return location_address(
        name=location.name, address=location.address, country=location.country
    )


def packing_slips(*, shipment_ids: Sequence[int]) -> list[PackingSlip]:
    """Return one packing slip per shipment, in shipment number order (2
    queries: the shipments with their orders' lines that never ship, and
    their lines)."""
    shipments = (
        Shipment.objects.filter(pk__in=list(shipment_ids))
        .select_related("order__channel", "location")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ShipmentLine.objects.select_related(
                    "order_line__product"
                ).order_by("order_line__sku", "pk"),
            ),
        )
        .annotate(
            not_shipped=ArraySubquery(
                OrderLine.objects.filter(
                    order_id=OuterRef("order_id"), requires_shipping=False
                )
                .order_by("pk")
                .values(line=JSONObject(sku="sku", name="name", quantity="quantity"))
            )
        )
        .order_by("number")
    )
    return [
        PackingSlip(
            shipment_number=shipment.number,
            order_number=shipment.order.number,
            channel=shipment.order.channel.name,
            channel_reference=shipment.order.external_id,
            placed_on=shipment.order.placed_at.date(),
            ship_to=postal_address(shipment.order),
            ship_from=shipment.location.name,
            lines=tuple(
                SlipLine(
                    sku=line.order_line.sku,
                    name=line.order_line.name,
                    quantity=line.quantity,
                    barcode=line.order_line.product.barcode,
                )
                for line in shipment.lines.all()
            ),
            not_shipped=tuple(
                SlipLine(sku=line["sku"], name=line["name"], quantity=line["quantity"])
                for line in shipment.not_shipped
            ),
            note=order_note(shipment.order),
        )
        for shipment in shipments
    ]


def shipping_labels(*, shipment_ids: Sequence[int]) -> list[ShippingLabel]:
    """Return one label per shipment, in shipment number order (1 query)."""
    shipments = (
        Shipment.objects.filter(pk__in=list(shipment_ids))
        .select_related("order", "location", "carrier")
        .order_by("number")
    )
    return [
        ShippingLabel(
            shipment_number=shipment.number,
            order_number=shipment.order.number,
            ship_from=_ship_from(shipment.location),
            ship_to=postal_address(shipment.order),
            carrier=shipment.carrier.name if shipment.carrier else "",
            service=shipment.service,
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            weight_kg=shipment.weight_kg,
            packages=shipment.packages,
            shipped_on=shipment.shipped_at.date() if shipment.shipped_at else None,
        )
        for shipment in shipments
    ]


def pick_sheets(*, pick_list_ids: Sequence[int]) -> list[PickSheet]:
    """Return the pick lists' lines grouped by SKU and sorted by bin (3 queries).

    Sorting by bin is the walking order through the warehouse; SKUs without
    a bin come last.
    """
    pick_lists = list(
        PickList.objects.filter(pk__in=list(pick_list_ids))
        .select_related("location")
        .order_by("number")
    )
    lines = list(
        ShipmentLine.objects.filter(shipment__pick_list__in=pick_lists)
        .exclude(shipment__status=ShipmentStatus.CANCELLED)
        .select_related("shipment__order", "order_line")
        .order_by("shipment__number", "pk")
    )
    bins = {
        (level.product_id, level.location_id): level.bin
        for level in StockLevel.objects.filter(
            location__in={p.location_id for p in pick_lists},
            product__in={line.order_line.product_id for line in lines},
        ).only("product_id", "location_id", "bin")
    }
    lines_of: dict[int, list[ShipmentLine]] = defaultdict(list)
    for line in lines:
        lines_of[line.shipment.pick_list_id].append(line)
    sheets = []
    for pick_list in pick_lists:
        by_product: dict[int, list[ShipmentLine]] = defaultdict(list)
        for line in lines_of[pick_list.pk]:
            by_product[line.order_line.product_id].append(line)
        rows = [
            PickRow(
                sku=group[0].order_line.sku,
                name=group[0].order_line.name,
                bin=bins.get((product_id, pick_list.location_id), ""),
                total=sum(line.quantity for line in group),
                destinations=tuple(
                    PickDestination(
                        order_number=line.shipment.order.number,
                        shipment_number=line.shipment.number,
                        quantity=line.quantity,
                    )
                    for line in group
                ),
            )
            for product_id, group in by_product.items()
        ]
        rows.sort(key=lambda row: (row.bin == "", row.bin, row.sku))
        sheet_lines = lines_of[pick_list.pk]
        orders = {line.shipment.order_id: line.shipment.order for line in sheet_lines}
        notes = sorted(
            (
                (order.number, note)
                for order in orders.values()
                if (note := order_note(order))
            ),
            key=lambda pair: pair[0],
        )
        sheets.append(
            PickSheet(
                number=pick_list.number,
                location=str(pick_list.location),
                created_on=pick_list.created_at.date(),
                rows=tuple(rows),
                shipments=len({line.shipment_id for line in sheet_lines}),
                orders=len({line.shipment.order_id for line in sheet_lines}),
                units=sum(line.quantity for line in sheet_lines),
                notes=tuple(notes),
            )
        )
    return sheets
