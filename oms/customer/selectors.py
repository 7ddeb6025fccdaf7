"""What the customer's order page shows, read in a fixed handful of queries
whatever the size of the tables: the order with its channel, its lines, its
shipments, their scans, its returns with their lines, its open requests."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from fulfillment.models import (
    ON_THE_WAY_STATUSES,
    ShipmentStatus,
    TrackingEvent,
)
from fulfillment.models import (
    ReturnLabel as PrepaidLabel,
)
from fulfillment.selectors import order_shipments_tracked
from oms.customer import wording
from orders.customer_access import customer_page_order_ref
from orders.models import CustomerRequest, Order, OrderLine, OrderStatus
from orders.services import customer as customer_rules
from returns.models import OPEN_STATUSES, ReturnLine, ReturnRequest, ReturnStatus
from returns.services.customer import return_window_end

# A parcel counts as late past its expected day while it is on its way or
# held up by a problem.
LATE_STATUSES = [*ON_THE_WAY_STATUSES, ShipmentStatus.EXCEPTION]
# Scans shown per shipment, newest first.
SCANS_SHOWN = 5


@dataclass(frozen=True)
class Scan:
    label: str
    place: str
    description: str
    occurred_at: datetime


@dataclass(frozen=True)
class ShipmentView:
    number: str
    words: str
    carrier: str
    tracking_number: str
    tracking_url: str
    estimated_delivery: date | None
    days_late: int
    delivered_at: datetime | None
    problem: str
    problem_detail: str
    problem_next: str
    scans: tuple[Scan, ...]


@dataclass(frozen=True)
class LineView:
    pk: int
    name: str
    sku: str
    quantity: int
    returnable: int
    unit_price: Decimal = Decimal("0")
    # In cents: the line's discount and its total after it.
    discount: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    requires_shipping: bool = True


@dataclass(frozen=True)
class ReturnView:
    number: str
    status: str
    status_label: str
    words: str
    items: tuple[tuple[str, int, str], ...]
    has_label: bool
    # A prepaid label is being bought: the page says it comes shortly.
    label_pending: bool = False


@dataclass
class CustomerPage:
    order: Order
    now: str
    next: str
    lines: list[LineView]
    shipments: list[ShipmentView]
    returns: list[ReturnView]
    open_requests: list[CustomerRequest]
    # Answered ones, newest first, with their outcome and reply.
    answered_requests: list[CustomerRequest]
    delivered_at: datetime | None
    valid_until: datetime | None
    return_until: datetime | None
    can_change_delivery: bool = False
    can_request_change: bool = False
    can_cancel: bool = False
    can_request_cancel: bool = False
    can_return: bool = False
    requested_kinds: set[str] = field(default_factory=set)

    @property
    def channel(self):
        return self.order.channel

    @property
    def masked_address(self) -> list[str]:
        return masked_address(self.order)


def _mask_word(word: str) -> str:
    """The first characters of a word, then an ellipsis: "Invalidenstraße"
    reads "Inv…", "Main" "Ma…", "12" "1…" (enough to recognise, not to
    copy)."""
    keep = max(1, min(3, len(word) - 2))
    return word[:keep] + "…" if len(word) > keep else word


def masked_address(order: Order) -> list[str]:
    """The ship-to address as far as the customer needs it to recognise it:
    first name and initial, the street's first characters, the town and
    country; no phone, no company, no second line."""
    names = order.ship_name.split()
    name = names[0] if names else ""
    if len(names) > 1:
        name += f" {names[-1][:1]}."
    street = " ".join(_mask_word(word) for word in order.ship_address1.split()[:4])
    postcode = order.ship_postcode[:2] + "…" if len(order.ship_postcode) > 2 else ""
    town = " ".join(part for part in (postcode, order.ship_city) if part)
    return [
        line for line in (name, street, town, order.ship_country.name) if line.strip()
    ]


def _shipments(order_id: int, today: date) -> list[ShipmentView]:
    shipments = order_shipments_tracked(order_id=order_id)
    views = []
    for shipment in shipments:
        problem = problem_detail = problem_next = ""
        if shipment.status == ShipmentStatus.EXCEPTION:
            problem, problem_next = wording.exception_words(shipment.exception_reason)
            reported = next(
                (
                    e
                    for e in shipment.history
                    if e.status == TrackingEvent.Status.EXCEPTION
                ),
                None,
            )
            problem_detail = reported.description if reported else ""
        days_late = 0
        eta = shipment.estimated_delivery
        if shipment.status in LATE_STATUSES and eta and eta < today:
            days_late = (today - eta).days
            if not problem_next:
                problem_next = wording.LATE_NEXT
        views.append(
            ShipmentView(
                number=shipment.number,
                words=wording.SHIPMENT_WORDS.get(
                    shipment.status, shipment.get_status_display()
                ),
                carrier=shipment.carrier.name if shipment.carrier else "",
                tracking_number=shipment.tracking_number,
                tracking_url=shipment.tracking_url if shipment.tracking_number else "",
                estimated_delivery=eta,
                days_late=days_late,
                delivered_at=shipment.delivered_at,
                problem=problem,
                problem_detail=problem_detail,
                problem_next=problem_next,
                scans=tuple(
                    Scan(
                        label=e.get_status_display(),
                        place=e.place,
                        description=e.description,
                        occurred_at=e.occurred_at,
                    )
                    for e in shipment.history[:SCANS_SHOWN]
                ),
            )
        )
    return views


def _returns(order_id: int) -> tuple[list[ReturnView], dict[int, int], bool]:
    """The order's returns, the units per line open returns claim, and
    whether any return is still open."""
    returns = list(
        ReturnRequest.objects.filter(order_id=order_id)
        .annotate(
            prepaid_unbought=Exists(
                PrepaidLabel.objects.filter(return_number=OuterRef("number")).exclude(
                    status=PrepaidLabel.Status.BOUGHT
                )
            )
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReturnLine.objects.select_related("order_line").order_by("pk"),
            )
        )
    )
    approved = {rma.number for rma in returns if rma.status == ReturnStatus.APPROVED}
    # Channels that buy prepaid labels: until it is bought there is none to give.
    unbought = {rma.number for rma in returns if rma.prepaid_unbought}
    claims: dict[int, int] = defaultdict(int)
    views = []
    any_open = False
    for rma in returns:
        any_open = any_open or rma.is_open
        for line in rma.lines.all():
            if rma.status in OPEN_STATUSES:
                claims[line.order_line_id] += line.quantity
        views.append(
            ReturnView(
                number=rma.number,
                status=rma.status,
                status_label=rma.get_status_display(),
                words=wording.RETURN_WORDS.get(rma.status, ""),
                items=tuple(
                    (line.order_line.name, line.quantity, line.get_reason_display())
                    for line in rma.lines.all()
                ),
                has_label=rma.number in approved and rma.number not in unbought,
                label_pending=rma.number in unbought,
            )
        )
    return views, claims, any_open


def customer_page(*, token: str) -> CustomerPage | None:
    """Return what the page of the token's order shows, or None when the
    token is not valid, its order is gone, or the link has expired — the
    caller answers all three the same way."""
    ref = customer_page_order_ref(token)
    if ref is None:
        return None
    order_id, number = ref
    order = (
        Order.objects.select_related("channel")
        .filter(pk=order_id, number=number)
        .first()
    )
    if order is None:
        return None
    now = timezone.now()
    shipments = _shipments(order.pk, timezone.localdate())
    returns, claims, any_open_return = _returns(order.pk)
    delivered_at = None
    if order.status == OrderStatus.DELIVERED:
        delivered_at = max(
            (s.delivered_at for s in shipments if s.delivered_at),
            default=order.updated_at,
        )
    ended = delivered_at
    if order.status == OrderStatus.CANCELLED:
        ended = order.updated_at
    valid_until = None
    if ended is not None:
        valid_until = ended + timedelta(days=settings.OMS_CUSTOMER_LINK_DAYS)
    # A return in progress keeps the page open: its label and its news are here.
    if valid_until is not None and now > valid_until and not any_open_return:
        return None
    lines = [
        LineView(
            pk=line.pk,
            name=line.name,
            sku=line.sku,
            quantity=line.quantity,
            returnable=max(
                0,
                line.quantity_shipped - line.quantity_returned - claims.get(line.pk, 0),
            ),
            unit_price=line.unit_price,
            discount=line.discount_cents,
            total=line.line_total,
            requires_shipping=line.requires_shipping,
        )
        for line in OrderLine.objects.filter(order_id=order.pk).order_by("pk")
    ]
    every_request = list(
        CustomerRequest.objects.filter(order_id=order.pk).order_by("-created_at")[:20]
    )
    requests = [r for r in every_request if r.status == CustomerRequest.Status.OPEN]
    answered = [r for r in every_request if r.status != CustomerRequest.Status.OPEN]
    words = wording.order_words(status=order.status, hold_reason=order.hold_reason)
    return_until = return_window_end(order=order, delivered_at=delivered_at)
    kinds = {request.kind for request in requests}
    Kind = CustomerRequest.Kind
    return CustomerPage(
        order=order,
        now=words.now,
        next=words.next,
        lines=lines,
        shipments=shipments,
        returns=returns,
        open_requests=requests,
        answered_requests=answered,
        delivered_at=delivered_at,
        valid_until=valid_until,
        return_until=return_until,
        can_change_delivery=customer_rules.delivery_change_allowed(order),
        can_request_change=customer_rules.request_allowed(order, Kind.CHANGE_DELIVERY)
        and Kind.CHANGE_DELIVERY not in kinds,
        can_cancel=customer_rules.cancel_allowed(order),
        can_request_cancel=customer_rules.request_allowed(order, Kind.CANCEL)
        and Kind.CANCEL not in kinds,
        can_return=bool(
            return_until
            and now <= return_until
            and any(line.returnable for line in lines)
        ),
        requested_kinds=kinds,
    )
