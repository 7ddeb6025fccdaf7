"""Order and shipment tallies: the triggers declared on the models
(django-pgtrigger) keep the per-(hour, channel, status) order counts and the
per-(status, estimate) shipment counts exact through every insert, status
change, delete and COPY; folding and rebuilding never change a count."""

from datetime import timedelta

import pgbulk
import pgtrigger
import pytest
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from oms.models import OrderTally, OrderTallyChange
from oms.tallies import (
    order_counts_by_day,
    order_counts_by_status,
    shipment_counts,
    tallies_fold_now,
    tallies_rebuild,
)
from orders.models import Order, OrderStatus
from orders.services.lifecycle import order_cancel, order_hold
from tests.factories import (
    ChannelFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
)

STATUSES = [value for value, _ in OrderStatus.choices]


@pytest.mark.django_db
def test_the_migrations_install_the_tally_triggers_as_declared():
    from fulfillment.models import Shipment

    for model, name in ((Order, "order_tally"), (Shipment, "shipment_tally")):
        for event in ("insert", "update", "delete"):
            (trigger,) = [
                trigger
                for registered, trigger in pgtrigger.registered()
                if registered is model and trigger.name == f"{name}_{event}"
            ]
            # Installed, enabled, and the SQL the model declares (not outdated).
            assert trigger.get_installation_status(model) == ("INSTALLED", True)


def truth_by_status() -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    counts |= dict(
        Order.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    return counts


def truth_by_day(since) -> dict:
    return {
        (day, channel): n
        for day, channel, n in Order.objects.filter(placed_at__gte=since)
        .annotate(day=TruncDate("placed_at"))
        .values_list("day", "channel_id")
        .annotate(n=Count("pk"))
        .order_by()
    }


def assert_exact(since) -> None:
    assert order_counts_by_status(STATUSES) == truth_by_status()
    tallied = {key: n for key, n in order_counts_by_day(since).items() if n}
    assert tallied == truth_by_day(since)


@pytest.mark.django_db(transaction=True)
def test_counts_follow_inserts_status_changes_deletes_and_folds(
    place_order, stock, user
):
    since = timezone.now() - timedelta(days=40)
    orders = []
    for days in (0, 0, 1, 3, 12):
        product = ProductFactory()
        stock(product, 5)
        orders.append(
            place_order([(product, 1)], placed_at=timezone.now() - timedelta(days=days))
        )
    assert_exact(since)
    assert OrderTallyChange.objects.exists()

    order_hold(order=orders[0], actor=user, reason="payment")
    order_cancel(order=orders[1], actor=user, reason="customer")
    assert_exact(since)

    moved = tallies_fold_now()
    assert moved > 0 and not OrderTallyChange.objects.exists()
    assert_exact(since)

    # A change of the placing time moves the order to its new day.
    Order.objects.filter(pk=orders[2].pk).update(
        placed_at=timezone.now() - timedelta(days=20)
    )
    # A bulk status change, and deleting orders, are counted too.
    Order.objects.filter(pk__in=[orders[3].pk, orders[4].pk]).update(
        status=OrderStatus.ON_HOLD, hold_reason="payment"
    )
    assert_exact(since)
    bare = OrderFactory(placed_at=timezone.now() - timedelta(days=2))
    assert_exact(since)
    Order.objects.filter(pk=bare.pk).delete()
    assert_exact(since)
    tallies_fold_now()
    assert_exact(since)
    # Folded rows that reach zero are dropped.
    assert not OrderTally.objects.filter(orders=0).exists()

    before = order_counts_by_status(STATUSES)
    tallies_rebuild()
    assert order_counts_by_status(STATUSES) == before
    assert_exact(since)


@pytest.mark.django_db
def test_an_import_sized_insert_counts_every_order(place_order, stock):
    product = ProductFactory()
    stock(product, 100)
    for _ in range(30):
        place_order([(product, 1)])
    assert sum(order_counts_by_status(STATUSES).values()) == Order.objects.count()
    tallies_fold_now()
    assert sum(order_counts_by_status(STATUSES).values()) == 30


@pytest.mark.django_db
def test_orders_copied_in_bulk_and_moved_in_bulk_are_counted():
    since = timezone.now() - timedelta(days=40)
    channel, customer = ChannelFactory(), CustomerFactory()
    copied = [
        OrderFactory.build(
            channel=channel,
            customer=customer,
            placed_at=timezone.now() - timedelta(days=n % 5, hours=n % 7),
        )
        for n in range(40)
    ]

    pgbulk.copy(Order, copied, exclude=["id"])

    assert Order.objects.count() == 40
    assert_exact(since)
    Order.objects.filter(placed_at__lt=timezone.now() - timedelta(days=2)).update(
        status=OrderStatus.CANCELLED
    )
    assert_exact(since)
    tallies_fold_now()
    assert_exact(since)
    Order.objects.filter(status=OrderStatus.CANCELLED).delete()
    assert_exact(since)


def truth_shipments(today) -> dict:
    from django.db.models import Q

    from fulfillment.models import Shipment
    from oms.dashboard import IN_TRANSIT

    return Shipment.objects.aggregate(
        late=Count("pk", filter=Q(status__in=IN_TRANSIT, estimated_delivery__lt=today)),
        exceptions=Count("pk", filter=Q(status="exception")),
    )


@pytest.mark.django_db
def test_late_and_exception_shipments_are_counted_exactly(shipped):
    from fulfillment.models import Shipment
    from oms.dashboard import IN_TRANSIT

    today = timezone.localdate()

    def counts():
        return shipment_counts(on_the_way=IN_TRANSIT, problem="exception", today=today)

    orders = [shipped([(ProductFactory(), 1)]) for _ in range(3)]
    assert counts() == truth_shipments(today)
    shipments = Shipment.objects.filter(order__in=orders)
    # Past its estimate: late; a carrier problem: exception; no estimate: neither.
    shipments.filter(order=orders[0]).update(
        estimated_delivery=today - timedelta(days=2)
    )
    shipments.filter(order=orders[1]).update(status="exception")
    shipments.filter(order=orders[2]).update(estimated_delivery=None)
    assert counts() == truth_shipments(today)
    assert counts()["late"] >= 1 and counts()["exceptions"] >= 1
    tallies_fold_now()
    assert counts() == truth_shipments(today)
    tallies_rebuild()
    assert counts() == truth_shipments(today)
