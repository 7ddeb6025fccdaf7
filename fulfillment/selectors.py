"""Reads for fulfillment pages and documents.

Document selectors return plain, picklable records (they travel to the
rendering processes) and use a fixed number of queries, whatever the number
of shipments or pick lists.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import JSONObject
from django.utils import timezone

from core.sequences import parse_number
from fulfillment.models import (
    DISPATCHED_STATUSES,
    ON_THE_WAY_STATUSES,
    OPEN_STATUSES,
    Carrier,
    PickList,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
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


def shipments_of_orders(
    *, order_ids: Sequence[int], statuses: Sequence[str] | None = None
) -> list[int]:
    """Return the pks of the orders' shipments (not cancelled), by number."""
    queryset = Shipment.objects.filter(order_id__in=list(order_ids)).exclude(
        status=ShipmentStatus.CANCELLED
    )
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    return list(queryset.order_by("number").values_list("pk", flat=True))


def order_with_channel(*, order_id: int) -> Order:
    """Return the order as it is now in the database, with its channel."""
    return Order.objects.select_related("channel").get(pk=order_id)


def pick_lists_with_counts() -> QuerySet[PickList]:
    """Pick lists with their location and how many shipments and units they hold."""
    return PickList.objects.select_related("location", "created_by").annotate(
        shipment_count=Count("shipments", distinct=True),
        unit_count=Sum("shipments__lines__quantity"),
    )


def open_claims(*, order_ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """Units each order line has on open shipments, per (line, location)."""
    claims: dict[tuple[int, int], int] = defaultdict(int)
    for row in (
        ShipmentLine.objects.filter(
            shipment__order_id__in=list(order_ids),
            shipment__status__in=OPEN_STATUSES,
        )
        .values("order_line_id", "shipment__location_id")
        .annotate(claimed=Sum("quantity"))
    ):
        claims[row["order_line_id"], row["shipment__location_id"]] += row["claimed"]
    return claims


# ---- where is my order


def late_shipments(queryset: QuerySet[Shipment] | None = None) -> QuerySet[Shipment]:
    """Shipments on their way past their estimated delivery (not delivered, not
    already flagged as an exception); answered by the (status, ETA) index."""
    queryset = Shipment.objects.all() if queryset is None else queryset
    return queryset.filter(
        status__in=ON_THE_WAY_STATUSES,
        estimated_delivery__lt=timezone.localdate(),
    )


@dataclass(frozen=True)
class ShipmentProgress:
    """Where one shipment is, when it should arrive, what went wrong."""

    number: str
    status: str
    status_label: str
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    estimated_delivery: date | None
    delivered_at: object
    late: bool
    problem: str
    last_news: str
    last_news_at: object


def order_shipments_tracked(*, order_id: int):
    """An order's shipments (not cancelled) with their carrier and, in
    `history`, their tracking events newest first (two queries)."""
    return (
        Shipment.objects.filter(order_id=order_id)
        .exclude(status=ShipmentStatus.CANCELLED)
        .select_related("carrier")
        .prefetch_related(
            Prefetch(
                "tracking_events",
                queryset=TrackingEvent.objects.order_by("-occurred_at", "-pk"),
                to_attr="history",
            )
        )
        .order_by("number")
    )


def order_tracking_summary(*, order_id: int) -> list[ShipmentProgress]:
    """Every shipment of an order with its latest tracking news (two queries)."""
    today = timezone.localdate()
    shipments = order_shipments_tracked(order_id=order_id)
    summary = []
    for shipment in shipments:
        latest = shipment.history[0] if shipment.history else None
        news = ""
        if latest is not None:
            news = latest.get_status_display()
            if latest.place:
                news += f" at {latest.place}"
            if latest.description:
                news += f": {latest.description}"
        problem = ""
        if shipment.status == ShipmentStatus.EXCEPTION:
            problem = shipment.get_exception_reason_display() or "Problem in transit"
            exception = next(
                (
                    e
                    for e in shipment.history
                    if e.status == TrackingEvent.Status.EXCEPTION
                ),
                None,
            )
            if exception is not None and exception.description:
                problem += f": {exception.description}"
        late = bool(
            shipment.status in ON_THE_WAY_STATUSES
            and shipment.estimated_delivery
            and shipment.estimated_delivery < today
        )
        summary.append(
            ShipmentProgress(
                number=shipment.number,
                status=shipment.status,
                status_label=shipment.get_status_display(),
                carrier=shipment.carrier.name if shipment.carrier else "",
                service=shipment.service,
                tracking_number=shipment.tracking_number,
                tracking_url=shipment.tracking_url,
                estimated_delivery=shipment.estimated_delivery,
                delivered_at=shipment.delivered_at,
                late=late,
                problem=problem,
                last_news=news,
                last_news_at=latest.occurred_at if latest else None,
            )
        )
    return summary


# ---- the warehouse forms


def carriers_active() -> list[Carrier]:
    """Return the carriers a shipment may be handed to, by name (1 query)."""
    return list(Carrier.objects.filter(active=True).order_by("name", "pk"))


def carrier_default(carriers: Sequence[Carrier] | None = None) -> Carrier | None:
    """Return the carrier every ship form starts with: the first active one
    by name (the list's Ship form and the order page's Ship step agree)."""
    carriers = carriers_active() if carriers is None else carriers
    return carriers[0] if carriers else None


def shipment_weights_g(*, shipment_ids: Sequence[int]) -> dict[int, int]:
    """Return each shipment's weight from its products × quantities, in grams
    (1 query)."""
    rows = (
        ShipmentLine.objects.filter(shipment_id__in=list(shipment_ids))
        .values("shipment_id")
        .annotate(grams=Sum(F("quantity") * F("order_line__product__weight_g")))
        .order_by()
    )
    weights = dict.fromkeys(shipment_ids, 0)
    weights.update({row["shipment_id"]: row["grams"] or 0 for row in rows})
    return weights


def shipments_with_labels(queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
    """Keep the shipments a shipping label is printed for: handed to a carrier
    with a tracking number (a label without them would be a draft)."""
    return queryset.filter(
        status__in=DISPATCHED_STATUSES, carrier__isnull=False
    ).exclude(tracking_number="")


def shipment_has_label(shipment: Shipment) -> bool:
    """Say whether a shipping label is printed for this shipment (as
    `shipments_with_labels`)."""
    return (
        shipment.status in DISPATCHED_STATUSES
        and shipment.carrier_id is not None
        and bool(shipment.tracking_number)
    )


# Enough for the largest wave; a search answer is a page of orders anyway.
SEARCH_ORDER_LIMIT = 1000


def order_ids_for_search(term: str) -> list[int]:
    """Return the ids of the orders a search term names by a fulfillment
    number: a shipment (SH-000123), a pick list (PL-000045) or a tracking
    number — each an exact lookup on a unique or indexed column."""
    term = term.strip()
    if not term:
        return []
    condition = Q(tracking_number__in={term, term.upper()})
    if shipment := parse_number("SH", term):
        condition |= Q(number=shipment)
    if pick_list := parse_number("PL", term):
        pick_list_ids = list(
            PickList.objects.filter(number=pick_list).values_list("pk", flat=True)
        )
        condition |= Q(pick_list_id__in=pick_list_ids)
    return list(
        Shipment.objects.filter(condition)
        .values_list("order_id", flat=True)
        .distinct()[:SEARCH_ORDER_LIMIT]
    )
