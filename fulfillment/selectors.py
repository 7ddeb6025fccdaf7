"""Reads for fulfillment pages (what the printed documents show:
`fulfillment.sheets`)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
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
from orders.models import Order


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
