"""Reads for returns: what may still be returned or refunded, the return
label, the order's return state and the returns report."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.sequences import parse_number
from fulfillment.models import Shipment, ShipmentStatus
from inventory.models import Location
from orders.addresses import PostalAddress, location_address, postal_address
from orders.models import Order, OrderLine
from returns.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Refund,
    RefundLine,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)

CENT = Decimal("0.01")
LEFT_STATUSES = [
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.DELIVERED,
]


# ---- what may still be returned or refunded


def open_return_claims(*, order: Order, exclude_return_id: int | None = None):
    """Units per order line on returns still waiting for the parcel."""
    rows = ReturnLine.objects.filter(
        order_line__order=order, return_request__status__in=OPEN_STATUSES
    )
    if exclude_return_id:
        rows = rows.exclude(return_request_id=exclude_return_id)
    return {
        row["order_line_id"]: row["claimed"]
        for row in rows.values("order_line_id").annotate(claimed=Sum("quantity"))
    }


def returnable_quantities(*, order: Order) -> dict[int, int]:
    """Units per order line the customer may still return: shipped, minus
    already returned, minus what open returns already claim."""
    claims = open_return_claims(order=order)
    return {
        line.pk: max(
            0, line.quantity_shipped - line.quantity_returned - claims.get(line.pk, 0)
        )
        for line in order.lines.all()
    }


@dataclass(frozen=True)
class RefundBalance:
    """What was paid on an order and what refunds already hold of it."""

    paid: Decimal
    refunded: Decimal
    shipping_refunded: Decimal
    refunded_units: dict[int, int]

    @property
    def refundable(self) -> Decimal:
        return max(Decimal("0"), self.paid - self.refunded)


def refund_balance(
    *, order: Order, exclude_refund_id: int | None = None
) -> RefundBalance:
    """Sum the order's refunds that are pending or approved (2 queries)."""
    refunds = Refund.objects.filter(order=order).exclude(status=Refund.Status.REJECTED)
    if exclude_refund_id:
        refunds = refunds.exclude(pk=exclude_refund_id)
    totals = refunds.aggregate(
        refunded=Coalesce(Sum("amount"), Value(Decimal("0"))),
        shipping=Coalesce(Sum("shipping_amount"), Value(Decimal("0"))),
    )
    units = {
        row["order_line_id"]: row["units"]
        for row in RefundLine.objects.filter(refund__in=refunds)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    }
    return RefundBalance(
        paid=order.total,
        # The Coalesce default has no cents: every figure in cents.
        refunded=Decimal(totals["refunded"]).quantize(CENT),
        shipping_refunded=Decimal(totals["shipping"]).quantize(CENT),
        refunded_units=units,
    )


# ---- the return label


def _returns_desk(location: Location | None) -> PostalAddress:
    if location is None:
        return PostalAddress(name="Returns", company="", lines=(), country="")
    return location_address(
        name=f"Returns · {location.name}",
        address=location.address,
        country=location.country,
    )


def return_location(*, order: Order) -> Location | None:
    """Where the order's goods come back to: the location its last parcel
    left from, or else the first active warehouse."""
    shipment = (
        Shipment.objects.filter(order=order, status__in=LEFT_STATUSES)
        .select_related("location")
        .order_by("-shipped_at", "-pk")
        .first()
    )
    if shipment:
        return shipment.location
    return (
        Location.objects.filter(active=True, kind=Location.Kind.WAREHOUSE)
        .order_by("priority", "code")
        .first()
    )


@dataclass(frozen=True)
class LabelLine:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class ReturnLabel:
    number: str
    order_number: str
    ship_from: PostalAddress
    ship_to: PostalAddress
    lines: tuple[LabelLine, ...]
    weight_kg: str
    created_on: date

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


def return_label(*, return_request: ReturnRequest) -> ReturnLabel:
    """Build the return label of an RMA: from the customer to the warehouse."""
    order = return_request.order
    location = return_location(order=order)
    lines = list(
        return_request.lines.select_related("order_line__product").order_by("pk")
    )
    grams = sum(line.order_line.product.weight_g * line.quantity for line in lines)
    return ReturnLabel(
        number=return_request.number,
        order_number=order.number,
        ship_from=postal_address(order),
        ship_to=_returns_desk(location),
        lines=tuple(
            LabelLine(
                sku=line.order_line.sku,
                name=line.order_line.name,
                quantity=line.quantity,
            )
            for line in lines
        ),
        weight_kg=f"{grams / 1000:.2f}",
        created_on=timezone.localdate(return_request.created_at),
    )


# ---- the order's return state


class ReturnState:
    NONE = "none"
    PARTIAL = "partial"
    RETURNED = "returned"
    LABELS = {NONE: "None", PARTIAL: "Partially returned", RETURNED: "Returned"}


def return_state(*, units_ordered: int, units_returned: int) -> str:
    """None, partially returned, or returned (every ordered unit came back)."""
    if not units_returned:
        return ReturnState.NONE
    if units_returned >= units_ordered:
        return ReturnState.RETURNED
    return ReturnState.PARTIAL


def orders_with_return_units(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate orders with units ordered and returned, and their open returns
    (subqueries, so other joins of the list never multiply the sums)."""
    lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    open_returns = (
        ReturnRequest.objects.filter(order=OuterRef("pk"))
        .exclude(status__in=FINISHED_STATUSES)
        .order_by()
        .values("order")
    )
    return queryset.annotate(
        units_ordered=Coalesce(
            Subquery(lines.annotate(n=Sum("quantity")).values("n")[:1]),
            0,
            output_field=IntegerField(),
        ),
        units_returned=Coalesce(
            Subquery(lines.annotate(n=Sum("quantity_returned")).values("n")[:1]),
            0,
            output_field=IntegerField(),
        ),
        open_return_count=Coalesce(
            Subquery(open_returns.annotate(n=Count("pk")).values("n")[:1]),
            0,
            output_field=IntegerField(),
        ),
    )


# ---- the returns report


@dataclass
class ReportRow:
    key: str
    label: str
    shipped_units: int = 0
    returned_units: int = 0
    returns: int = 0

    @property
    def rate(self) -> Decimal | None:
        """Returned units per shipped unit, in percent."""
        if not self.shipped_units:
            return None
        return (Decimal(self.returned_units) * 100 / self.shipped_units).quantize(
            Decimal("0.1")
        )


@dataclass
class ReturnsReport:
    start: date
    end: date
    shipped_units: int = 0
    shipped_orders: int = 0
    returned_units: int = 0
    returns: int = 0
    orders_with_returns: int = 0
    by_reason: list[ReportRow] = field(default_factory=list)
    by_product: list[ReportRow] = field(default_factory=list)
    by_channel: list[ReportRow] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        return ReportRow("", "", self.shipped_units, self.returned_units).rate

    @property
    def order_rate(self) -> Decimal | None:
        return ReportRow("", "", self.shipped_orders, self.orders_with_returns).rate


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def returns_report(*, start: date, end: date) -> ReturnsReport:
    """Return rates and counts by reason, product and channel (4 queries).

    The cohort is the orders placed from `start` to `end` (inclusive): their
    shipped units against the units asked back on their returns (rejected
    returns do not count).
    """
    since, until = _day_bounds(start, end)
    report = ReturnsReport(start=start, end=end)
    placed = Q(order__placed_at__gte=since, order__placed_at__lt=until)

    shipped = (
        OrderLine.objects.filter(placed, quantity_shipped__gt=0)
        .order_by()
        .values(
            "product_id",
            "sku",
            "name",
            "order__channel_id",
            "order__channel__name",
        )
        .annotate(units=Sum("quantity_shipped"), orders=Count("order", distinct=True))
    )
    returned = (
        ReturnLine.objects.filter(
            Q(
                return_request__order__placed_at__gte=since,
                return_request__order__placed_at__lt=until,
            )
        )
        .exclude(return_request__status=ReturnStatus.REJECTED)
        .order_by()
        .values(
            "reason",
            "order_line__product_id",
            "order_line__sku",
            "order_line__name",
            "return_request__order__channel_id",
            "return_request__order__channel__name",
        )
        .annotate(units=Sum("quantity"), returns=Count("return_request", distinct=True))
    )
    # Distinct orders and returns over the whole range (one query).
    totals = (
        ReturnRequest.objects.filter(
            order__placed_at__gte=since, order__placed_at__lt=until
        )
        .exclude(status=ReturnStatus.REJECTED)
        .aggregate(returns=Count("pk"), orders=Count("order", distinct=True))
    )
    shipped_orders = (
        Order.objects.filter(
            placed_at__gte=since, placed_at__lt=until, lines__quantity_shipped__gt=0
        )
        .values("pk")
        .distinct()
        .count()
    )

    products: dict[int, ReportRow] = {}
    channels: dict[int, ReportRow] = {}
    reasons = {
        value: ReportRow(value, str(label)) for value, label in ReturnReason.choices
    }
    for row in shipped:
        product = products.setdefault(
            row["product_id"],
            ReportRow(row["sku"], f"{row['sku']} · {row['name']}"),
        )
        product.shipped_units += row["units"]
        channel = channels.setdefault(
            row["order__channel_id"],
            ReportRow(str(row["order__channel_id"]), row["order__channel__name"]),
        )
        channel.shipped_units += row["units"]
        report.shipped_units += row["units"]
    returns_of: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in returned:
        units, count = row["units"], row["returns"]
        product = products.setdefault(
            row["order_line__product_id"],
            ReportRow(
                row["order_line__sku"],
                f"{row['order_line__sku']} · {row['order_line__name']}",
            ),
        )
        product.returned_units += units
        channel = channels.setdefault(
            row["return_request__order__channel_id"],
            ReportRow(
                str(row["return_request__order__channel_id"]),
                row["return_request__order__channel__name"],
            ),
        )
        channel.returned_units += units
        reason = reasons[row["reason"]]
        reason.returned_units += units
        returns_of["reason"][row["reason"]] += count
        returns_of["product"][row["order_line__product_id"]] += count
        returns_of["channel"][row["return_request__order__channel_id"]] += count
        report.returned_units += units
    for key, row in reasons.items():
        row.returns = returns_of["reason"][key]
    for key, row in products.items():
        row.returns = returns_of["product"][key]
    for key, row in channels.items():
        row.returns = returns_of["channel"][key]
    report.returns = totals["returns"]
    report.orders_with_returns = totals["orders"]
    report.shipped_orders = shipped_orders
    report.by_reason = sorted(
        reasons.values(), key=lambda r: (-r.returned_units, r.label)
    )
    report.by_product = sorted(
        (row for row in products.values() if row.returned_units),
        key=lambda r: (-r.returned_units, -(r.rate or 0), r.key),
    )
    report.by_channel = sorted(
        channels.values(), key=lambda r: (-r.returned_units, r.label)
    )
    return report


def order_ids_for_search(term: str) -> list[int]:
    """Return the ids of the orders a search term names by a return
    (RMA-000012) or refund (RF-000034) number: exact, unique-index lookups."""
    if number := parse_number("RMA", term):
        return list(
            ReturnRequest.objects.filter(number=number).values_list(
                "order_id", flat=True
            )
        )
    if number := parse_number("RF", term):
        return list(
            Refund.objects.filter(number=number).values_list("order_id", flat=True)
        )
    return []
