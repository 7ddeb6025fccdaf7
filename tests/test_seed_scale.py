"""`seed_scale`: the large data set is loaded by the database itself, with
the secondary indexes dropped and built again; afterwards the tables have
exactly the indexes and constraints they had, the rows agree with each other,
and the tallies count them exactly."""

import pytest
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from fulfillment.models import Shipment, ShipmentStatus
from inventory.models import Product
from oms import sql
from oms.models import OrderTally, ShipmentTally
from oms.seed import scale, scale_plan
from oms.tallies import order_counts_by_status, shipment_counts
from orders.models import Customer, Order, OrderEvent, OrderLine

TABLES = [
    Customer._meta.db_table,
    Order._meta.db_table,
    OrderLine._meta.db_table,
    OrderEvent._meta.db_table,
    Shipment._meta.db_table,
]


def schema() -> dict[str, set]:
    """Every index and constraint of the loaded tables, by definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
            "FROM pg_index WHERE indrelid = ANY(%s::regclass[])",
            [TABLES],
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
            "conindid::regclass::text, convalidated FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[])",
            [TABLES],
        )
        constraints = set(cursor.fetchall())
    return {"indexes": indexes, "constraints": constraints}


@pytest.mark.django_db(transaction=True)
def test_seed_scale_loads_consistent_rows_and_restores_the_schema(monkeypatch):
    monkeypatch.setattr(scale_plan, "CHUNK", 700)  # several chunks per table
    before = schema()
    said = []

    figures = scale.seed_scale(orders=3000, workers=3, say=said.append)

    assert schema() == before
    assert any("indexes dropped" in line for line in said)
    assert figures["orders"] == Order.objects.count() == 3000
    assert figures["customers"] == Customer.objects.count() == 750
    assert figures["shipments"] == Shipment.objects.count()
    assert figures["database_bytes"] > 0
    # Every order has 1-4 lines of a scale product, its sku and name copied.
    per_order = Order.objects.annotate(n=Count("lines")).values_list("n", flat=True)
    assert set(per_order) <= {1, 2, 3, 4} and len(set(per_order)) > 1
    products = {p.pk: (p.sku, p.name) for p in Product.objects.all()}
    lines = OrderLine.objects.values_list("product_id", "sku", "name")
    assert all(products[pk] == (sku, name) for pk, sku, name in lines)
    assert len({pk for pk, _, _ in lines}) > 100
    # One timeline entry per order, one shipment per shipped order.
    assert OrderEvent.objects.count() == 3000
    shipped = Order.objects.filter(
        status__in=["shipped", "delivered", "partially_shipped"]
    )
    assert Shipment.objects.count() == shipped.count() > 0
    assert not Shipment.objects.exclude(order__in=shipped).exists()
    assert not Shipment.objects.filter(shipped_at__lt=F("order__placed_at")).exists()
    # The tallies count what is there, exactly.
    truth = dict(Order.objects.values_list("status").annotate(n=Count("pk")))
    assert order_counts_by_status(list(truth)) == truth
    assert sum(OrderTally.objects.values_list("orders", flat=True)) == 3000
    assert sum(ShipmentTally.objects.values_list("shipments", flat=True)) == (
        Shipment.objects.count()
    )
    today = timezone.localdate()
    assert shipment_counts(
        on_the_way=[ShipmentStatus.IN_TRANSIT],
        problem=ShipmentStatus.EXCEPTION,
        today=today,
    ) == {
        "late": Shipment.objects.filter(
            status=ShipmentStatus.IN_TRANSIT, estimated_delivery__lt=today
        ).count(),
        "exceptions": Shipment.objects.filter(status=ShipmentStatus.EXCEPTION).count(),
    }


@pytest.mark.django_db(transaction=True)
def test_a_failed_load_still_gets_its_indexes_back(monkeypatch):
    before = schema()
    planned = sql.seed_statements

    def broken(product_count):
        statements = planned(product_count)
        statements["lines"] = "SELECT 1 / 0"
        return statements

    monkeypatch.setattr(sql, "seed_statements", broken)

    with pytest.raises(RuntimeError, match="load lines"):
        scale.seed_scale(orders=500, say=lambda text: None)

    assert schema() == before
