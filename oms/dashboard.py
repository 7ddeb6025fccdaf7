"""The day's work on the admin's first page: a fixed handful of queries
whatever the size of the tables."""

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from django.apps import apps
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Extract
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from connections.models import OutboundMessage
from connections.selectors import inbound_failed, outbound_failed
from core.charts import column_series, horizontal_bars
from core.tasks import app
from fulfillment.models import (
    PrintJob,
    Shipment,
    ShipmentStatus,
    WebhookDelivery,
)
from fulfillment.services.packstation import packers_today
from inventory.selectors import stock_levels_below_reorder_point
from oms.models import DashboardFigure
from oms.tallies import (
    order_counts_by_day,
    order_counts_by_status,
    shipment_counts,
)
from orders.models import Channel, CustomerRequest, ImportJob, Order, OrderStatus
from orders.rules.failures import rules_failing
from orders.services.shipby import ship_by_due_today_q, ship_by_late_q
from returns.models import Refund

BACKLOG = [
    (OrderStatus.ALLOCATED, "Allocated, waiting for a pick list"),
    (OrderStatus.PICKING, "Picking"),
    (OrderStatus.PACKED, "Packed, not shipped"),
    (OrderStatus.BACKORDERED, "Backordered"),
    (OrderStatus.ON_HOLD, "On hold"),
]
IN_TRANSIT = [
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
]


def _figures(names: list[str]) -> dict:
    """Figures over history, as last computed by `dashboard_figures_refresh`
    (periodic): never computed on the page once they exist."""
    stored = dict(
        DashboardFigure.objects.filter(name__in=names).values_list("name", "value")
    )
    missing = [name for name in names if name not in stored]
    if missing:  # a new install, before the worker's first refresh
        stored |= dashboard_figures_refresh_now(names=missing)
    return stored


def dashboard_figures_refresh_now(*, names: list[str] | None = None) -> dict:
    """Compute the history figures of the dashboard and store them."""
    since = timezone.now() - timedelta(days=30)
    compute = {
        "ship-time": median_hours_to_ship,
        "returns": returns_by_reason,
    }
    values = {}
    for name in names or compute:
        values[name] = [list(row) for row in compute[name](since)]
        DashboardFigure.objects.update_or_create(
            name=name,
            defaults={"value": values[name], "computed_at": timezone.now()},
        )
    return values


@app.periodic(cron="*/4 * * * *", periodic_id="dashboard-figures")
@app.task(queueing_lock="dashboard-figures")
def dashboard_figures_refresh(timestamp: int = 0) -> None:
    """Periodic (`periodic`): the dashboard's history figures."""
    dashboard_figures_refresh_now()


class Median(Aggregate):
    """The median of the values (PostgreSQL's `percentile_cont(0.5)`)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def median_hours_to_ship(since) -> list[tuple[str, float]]:
    """Median hours from order to its first shipment, per channel, last 30 days."""
    shipped = Shipment.objects.filter(shipped_at__gte=since)
    earlier = shipped.filter(order=OuterRef("order")).filter(
        Q(shipped_at__lt=OuterRef("shipped_at"))
        | Q(shipped_at=OuterRef("shipped_at"), pk__lt=OuterRef("pk"))
    )
    rows = (
        shipped.filter(~Exists(earlier))
        .values_list("order__channel__name")
        .annotate(
            hours=Median(
                Extract(F("shipped_at") - F("order__placed_at"), "epoch") / 3600
            )
        )
        .order_by("order__channel__name")
    )
    return [(name, round(hours, 1)) for name, hours in rows]


def returns_by_reason(since) -> list[tuple[str, int]]:
    if not apps.is_installed("returns"):
        return []
    try:
        line_model = apps.get_model("returns", "ReturnLine")
    except LookupError:
        return []
    reasons = dict(line_model._meta.get_field("reason").choices)
    rows = (
        line_model.objects.filter(return_request__created_at__gte=since)
        .values_list("reason")
        .annotate(n=Sum("quantity"))
        .order_by("-n")
    )
    return [(str(reasons.get(reason, reason)), n) for reason, n in rows]


def dashboard_context(*, user) -> dict:
    """Everything the dashboard shows, limited to what the user may see."""
    now = timezone.now()
    today = timezone.localdate()
    can_orders = user.has_perm("orders.view_order")
    can_ship = user.has_perm("fulfillment.view_shipment")
    can_stock = user.has_perm("inventory.view_stocklevel")
    context: dict = {"dashboard": True}
    order_list = reverse("admin:orders_order_changelist")

    if can_orders:
        per_day: dict = defaultdict(int)
        per_channel: dict = defaultdict(int)
        today_channel: dict = defaultdict(int)
        # Exact and live from the order tallies (oms.tallies), not the orders.
        start = timezone.make_aware(
            datetime.combine(today - timedelta(days=29), time.min)
        )
        names = dict(Channel.objects.values_list("pk", "name"))
        for (day, channel_id), n in order_counts_by_day(start).items():
            channel = names.get(channel_id, f"channel {channel_id}")
            per_day[day] += n
            per_channel[channel] += n
            if day == today:
                today_channel[channel] += n
        days = [today - timedelta(days=offset) for offset in range(29, -1, -1)]
        context["orders_today"] = sum(today_channel.values())
        context["orders_30_days"] = sum(per_channel.values())
        context["orders_today_chart"] = horizontal_bars(
            sorted(today_channel.items()),
            title="Orders received today by channel",
            value_label="orders",
            counts=True,
        )
        context["orders_channel_chart"] = horizontal_bars(
            sorted(per_channel.items()),
            title="Orders over the last 30 days by channel",
            value_label="orders",
            counts=True,
        )
        context["orders_day_chart"] = column_series(
            [(f"{day.day} {day:%b}", per_day.get(day, 0)) for day in days],
            title="Orders per day, last 30 days",
            value_label="orders",
            category_label="day placed",
            counts=True,
        )
        counts = order_counts_by_status([status for status, _ in BACKLOG])
        context["backlog"] = [
            (label, counts.get(status, 0), f"{order_list}?status={status}")
            for status, label in BACKLOG
        ]
    if can_ship:
        shipment_list = reverse("admin:fulfillment_shipment_changelist")
        # Exact and live from the shipment tallies (oms.tallies).
        problems = shipment_counts(
            on_the_way=IN_TRANSIT, problem=ShipmentStatus.EXCEPTION, today=today
        )
        context["late_shipments"] = (problems["late"], f"{shipment_list}?late=yes")
        context["exception_shipments"] = (
            problems["exceptions"],
            f"{shipment_list}?status__exact={ShipmentStatus.EXCEPTION}",
        )
        context["packers_today"] = packers_today(
            since=timezone.make_aware(datetime.combine(today, time.min))
        )
        context["ship_time_chart"] = horizontal_bars(
            _figures(["ship-time"])["ship-time"],
            title="Median hours from order to shipment, last 30 days",
            unit=" h",
            value_label="hours (median)",
        )
    if can_stock:
        context["below_reorder"] = (
            stock_levels_below_reorder_point().count(),
            reverse("admin:inventory_stocklevel_changelist") + "?reorder=below",
        )
    if user.has_perm("returns.view_returnrequest"):
        context["returns_chart"] = horizontal_bars(
            _figures(["returns"])["returns"],
            title="Returned units by reason, last 30 days",
            unit=("unit", "units"),
            value_label="units returned",
            counts=True,
        )
    context["attention"] = _needs_attention(user=user, now=now)
    return context


def querysets_count(querysets: dict[str, QuerySet]) -> dict[str, int]:
    """Count several querysets in one round trip (a UNION of COUNTs)."""
    if not querysets:
        return {}
    parts = [
        queryset.order_by()
        .values(counted_as=Value(name))
        .annotate(n=Count("pk"))
        .values_list("counted_as", "n")
        for name, queryset in querysets.items()
    ]
    first, *rest = parts
    rows = first.union(*rest, all=True) if rest else first
    return dict.fromkeys(querysets, 0) | dict(rows)


def _needs_attention(*, user, now) -> list[tuple[str, int, str]]:
    """What a person must act on: refunds waiting for their approval, failed
    background jobs, rules that failed on orders and channel updates that
    gave up, each with the link to the filtered list. One query, whatever
    the user may see."""
    since = (now - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    since_param = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    order_list = reverse("admin:orders_order_changelist")
    candidates = [
        # Both read the partial ship-by index of orders still to ship.
        (
            "ship_late",
            "orders.view_order",
            "Orders late to ship (ship-by date passed)",
            Order.objects.filter(ship_by_late_q()),
            f"{order_list}?ship_by=late",
        ),
        (
            "ship_today",
            "orders.view_order",
            "Orders due to ship today",
            Order.objects.filter(ship_by_due_today_q()),
            f"{order_list}?ship_by=today",
        ),
        (
            "refunds",
            "returns.approve_refund",
            "Refunds awaiting your approval",
            Refund.objects.filter(status=Refund.Status.PENDING),
            reverse("admin:returns_refund_changelist")
            + f"?status__exact={Refund.Status.PENDING}",
        ),
        (
            "customer_requests",
            "orders.view_customerrequest",
            "Customer requests to answer (from the order page)",
            # Read from the partial index of open requests.
            CustomerRequest.objects.filter(status=CustomerRequest.Status.OPEN),
            reverse("admin:orders_customerrequest_changelist"),
        ),
        (
            "imports",
            "orders.view_importjob",
            "Order imports that failed",
            ImportJob.objects.filter(status=ImportJob.Status.FAILED),
            reverse("admin:orders_importjob_changelist")
            + f"?status__exact={ImportJob.Status.FAILED}",
        ),
        (
            "rules",
            "orders.view_rule",
            gettext("Rules failing (their orders held “Rule failed”)"),
            rules_failing(),
            reverse("admin:orders_rule_changelist") + "?failed_at__isempty=0",
        ),
        (
            "label_warnings",
            "fulfillment.view_shipment",
            gettext("Labels voided while the carrier had the parcel"),
            # Read from the partial index of warned shipments.
            Shipment.objects.filter(label_warning_at__isnull=False),
            reverse("admin:fulfillment_shipment_changelist") + "?label_warning=yes",
        ),
        (
            "prints",
            "fulfillment.view_printjob",
            "Print batches that failed",
            PrintJob.objects.filter(status=PrintJob.Status.FAILED),
            reverse("admin:fulfillment_printjob_changelist")
            + f"?status__exact={PrintJob.Status.FAILED}",
        ),
        (
            "webhooks",
            # Shown to who can act on it (replay), not to all who may look.
            "connections.replay_outboundmessage",
            "Webhook deliveries that gave up (last 7 days)",
            # The last attempt failed and no other is planned; created_at
            # is indexed, so this stays a range read on a large log.
            WebhookDelivery.objects.filter(
                created_at__gte=since,
                succeeded=False,
                attempt__gte=WebhookDelivery.MAX_ATTEMPTS,
                next_attempt_at__isnull=True,
            ),
            reverse("admin:fulfillment_webhookdelivery_changelist")
            + f"?succeeded__exact=0&attempt__gte={WebhookDelivery.MAX_ATTEMPTS}"
            f"&next_attempt_at__isnull=True&created_at__gte={since_param}",
        ),
        (
            "inbox",
            "connections.replay_inboundmessage",
            gettext("Order messages that failed (taken in, not written)"),
            # Read from the (status, received_at) index.
            inbound_failed(),
            reverse("admin:connections_inboundmessage_changelist")
            + "?status=failed_taken",
        ),
        (
            "outbox",
            "connections.replay_outboundmessage",
            "Messages to shops and customers that failed",
            outbound_failed(),
            reverse("admin:connections_outboundmessage_changelist")
            + f"?status__exact={OutboundMessage.Status.FAILED}",
        ),
    ]
    shown = [row for row in candidates if user.has_perm(row[1])]
    counts = querysets_count({name: queryset for name, _, _, queryset, _ in shown})
    return [(label, counts[name], url) for name, _, label, _, url in shown]
