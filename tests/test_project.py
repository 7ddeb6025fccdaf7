"""Project-wide checks: migrations, demo data."""

from io import StringIO

import pytest
from django.core.management import call_command

from fulfillment.models import DocumentPrint, PickList, Shipment
from inventory.models import Location, Product, StockLevel, StockMovement
from orders.models import Channel, Order, OrderStatus
from returns.models import Refund, ReturnRequest, ReturnStatus


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
    assert Channel.objects.count() == 3
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
