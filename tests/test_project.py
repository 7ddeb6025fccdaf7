"""Project-wide checks: migrations, demo data."""

from io import StringIO

import pytest
from django.core.management import call_command

from fulfillment.models import DocumentPrint, PickList, Shipment
from inventory.models import Location, Product, StockLevel, StockMovement
from orders.models import Channel, Order, OrderStatus
from returns.models import Refund, ReturnRequest, ReturnStatus
from tests.support.emails import customer_emails


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_runs_twice_without_duplicates(django_user_model):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (
        Order.objects.count(),
        Product.objects.count(),
        StockMovement.objects.count(),
        django_user_model.objects.count(),
        Shipment.objects.count(),
        PickList.objects.count(),
        DocumentPrint.objects.count(),
        ReturnRequest.objects.count(),
        Refund.objects.count(),
    )
    call_command("seed_demo", stdout=out)

    assert counts == (
        Order.objects.count(),
        Product.objects.count(),
        StockMovement.objects.count(),
        django_user_model.objects.count(),
        Shipment.objects.count(),
        PickList.objects.count(),
        DocumentPrint.objects.count(),
        ReturnRequest.objects.count(),
        Refund.objects.count(),
    )
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == set(
        ReturnStatus.values
    )
    assert Refund.objects.filter(status="pending").exists()
    assert set(Shipment.objects.values_list("status", flat=True)) >= {
        "pending",
        "picking",
        "packed",
        "shipped",
        "delivered",
    }
    assert set(PickList.objects.values_list("status", flat=True)) == {
        "open",
        "picking",
        "done",
    }
    assert DocumentPrint.objects.filter(kind="pick_list").exists()
    assert not Order.objects.filter(
        status__in=["picking", "packed", "shipped", "delivered"], shipments=None
    ).exists()
    # web, marketplace, phone, and the two shop channels (Shopify, WooCommerce).
    assert Channel.objects.count() == 5
    assert Location.objects.count() == 3
    assert len(set(Location.objects.values_list("country", flat=True))) == 2
    assert Product.objects.count() >= 60
    assert Order.objects.count() >= 300
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= {
        OrderStatus.PENDING,
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
        OrderStatus.PICKING,
        OrderStatus.PACKED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.ON_HOLD,
        OrderStatus.CANCELLED,
    }
    assert StockLevel.objects.filter(on_hand=0).exists()
    assert {"admin", "warehouse", "service", "manager"} <= set(
        django_user_model.objects.values_list("username", flat=True)
    )
    assert "oms-demo-warehouse" in out.getvalue()
    _assert_demo_tracking()


def _assert_demo_tracking():
    """Shipped orders have tracking histories, some late, some with problems,
    and the e-mails about them are on their timelines."""
    from django.utils import timezone

    from fulfillment.models import TrackingEvent
    from orders.models import OrderEvent

    scanned = Shipment.objects.filter(
        status__in=["in_transit", "exception", "delivered"]
    )
    assert not scanned.filter(tracking_events=None).exists()
    assert scanned.filter(status="in_transit").count() >= 10
    assert TrackingEvent.objects.filter(status="out_for_delivery").exists()
    assert Shipment.objects.filter(
        status="in_transit", estimated_delivery__lt=timezone.localdate()
    ).exists()
    problems = set(
        Shipment.objects.filter(status="exception").values_list(
            "exception_reason", flat=True
        )
    )
    assert problems >= {"address", "damaged", "delayed", "lost"}
    kinds = set(
        k.removeprefix("email.")
        for k in customer_emails().values_list("kind", flat=True)
    )
    assert {"order_shipped", "shipment_delayed", "order_delivered"} <= kinds
    email_events = OrderEvent.objects.filter(kind="email")
    for subject in ("is on its way", "News about your order", "was delivered"):
        assert email_events.filter(message__contains=subject).exists(), subject
