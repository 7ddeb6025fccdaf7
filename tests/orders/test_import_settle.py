"""`import_confirm` settles the new orders inside the import's transaction:
allocated (priority first, then oldest), backordered or left on hold, their
"order received" e-mails queued; committed settled or not at all. On
PostgreSQL each order is written once, with its final status."""

import pytest
from django.db.models import Sum

from inventory.models import Allocation, StockLevel
from orders.importing import confirm
from orders.importing.confirm import import_confirm
from orders.models import Order, OrderEvent, OrderLine, OrderStatus
from tests import factories
from tests.orders.rules.support import rule
from tests.orders.test_import import HEADER, csv_bytes, row
from tests.support.emails import customer_emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db, stock):
    """Channel "web", product TSH-BLK-M with 3 in stock at RNO."""
    factories.ChannelFactory(code="web", name="Web shop")
    product = factories.ProductFactory(sku="TSH-BLK-M", name="T-shirt")
    stock(product, 3)
    return product


def confirm_file(rows, **options):
    return import_confirm(
        data=csv_bytes(rows),
        actor=None,
        channel=None,
        format_code="auto",
        filename="settle.csv",
        partial=False,
        **options,
    )


def status_of(external_id: str) -> str:
    return Order.objects.get(external_id=external_id).status


def kinds(external_id: str) -> list[str]:
    return list(
        OrderEvent.objects.filter(order__external_id=external_id)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_oldest_first_then_backordered_with_mails_queued(shop):
    confirmed = confirm_file(
        [
            row(ref="NEW", quantity="2", placed_at="2026-11-20 12:00"),
            row(ref="OLD", quantity="2", placed_at="2026-11-20 09:00"),
        ]
    )

    assert confirmed.allocated == 1
    assert (status_of("OLD"), status_of("NEW")) == ("allocated", "backordered")
    assert kinds("OLD") == ["imported", "allocated"]
    # 1 of 2 reserved: one entry says what was reserved, one what is short.
    assert kinds("NEW") == ["imported", "allocated", "backordered"]
    level = StockLevel.objects.get()
    reserved = Allocation.objects.aggregate(total=Sum("quantity"))["total"]
    assert (level.allocated, reserved) == (3, 3)
    assert customer_emails("order_received").count() == 2


def test_routing_reason_is_recorded_on_the_allocated_entry(shop):
    confirm_file([row(ref="A-1")])

    event = OrderEvent.objects.get(order__external_id="A-1", kind="allocated")
    assert event.data["reserved"] == {"RNO": [["TSH-BLK-M", 1]]}
    assert "routing" in event.data


def test_priority_set_by_an_intake_rule_comes_before_age(shop):
    rule(
        "Express first",
        [("shipping_method", "is", "Express")],
        [("priority", "urgent")],
    )
    rows = [
        row(ref="OLD", quantity="3", placed_at="2026-11-20 09:00"),
        row(
            ref="FAST",
            quantity="3",
            placed_at="2026-11-20 12:00",
            shipping_method="Express",
        ),
    ]

    confirmed = import_confirm(
        data=csv_bytes(rows, header=[*HEADER, "shipping_method"]),
        actor=None,
        channel=None,
        format_code="auto",
        filename="settle.csv",
        partial=False,
    )

    assert confirmed.allocated == 1
    assert (status_of("FAST"), status_of("OLD")) == ("allocated", "backordered")


def test_held_orders_stay_unallocated(shop):
    rule("Review", [("total", "gte", "50")], [("hold", "fraud_review")])

    confirmed = confirm_file(
        [
            row(ref="BIG", quantity="3", price="20.00"),
            row(ref="ADDR", ship_country="DE", ship_region="", ship_postcode="1011"),
            row(ref="OK", quantity="1"),
        ]
    )

    assert confirmed.allocated == 1
    assert (status_of("BIG"), status_of("ADDR"), status_of("OK")) == (
        OrderStatus.ON_HOLD,
        OrderStatus.ON_HOLD,
        OrderStatus.ALLOCATED,
    )
    assert not Allocation.objects.filter(
        order_line__order__external_id__in=["BIG", "ADDR"]
    ).exists()
    assert StockLevel.objects.get().allocated == 1


def test_a_file_of_held_orders_only_is_written_and_mailed(shop):
    rule("Review all", [], [("hold", "fraud_review")])

    confirmed = confirm_file([row(ref="A-1"), row(ref="A-2")])

    assert confirmed.allocated == 0
    assert set(Order.objects.values_list("status", flat=True)) == {"on_hold"}
    assert not Allocation.objects.exists()
    assert customer_emails("order_received").count() == 2


def test_a_location_excluded_by_a_rule_is_not_shipped_from(shop, stock):
    overflow = factories.LocationFactory(code="OVF", priority=1)
    stock(shop, 5, at=overflow)
    rule("Never overflow", [], [("exclude_location", "", overflow)])

    confirm_file([row(ref="A-1", quantity="4")])

    # RNO has 3: the rest waits rather than ship from the excluded location.
    assert status_of("A-1") == OrderStatus.BACKORDERED
    assert set(
        Allocation.objects.values_list("stock_level__location__code", flat=True)
    ) == {"RNO"}


def test_a_failure_while_settling_writes_nothing(shop, monkeypatch):
    from orders.importing import write

    def fail(**_kwargs):
        raise RuntimeError("mail queue down")

    monkeypatch.setattr(write, "customer_emails_queue_many", fail)

    with pytest.raises(RuntimeError):
        confirm_file([row(ref="A-1")])

    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert not Allocation.objects.exists()
    assert StockLevel.objects.get().allocated == 0


def test_orders_a_lost_attempt_left_pending_are_still_settled(shop):
    from orders.importing.services import orders_import

    written = orders_import(data=csv_bytes([row(ref="A-1")]), actor=None)
    assert status_of("A-1") == OrderStatus.PENDING

    assert confirm.imported_orders_settle(order_ids=written.order_ids, actor=None) == 1
    assert status_of("A-1") == OrderStatus.ALLOCATED
    assert customer_emails("order_received").count() == 1


def test_each_order_is_written_once_with_its_status(shop):
    confirm_file([row(ref="A-1"), row(ref="A-2", quantity="5")])

    for external_id, status in (("A-1", "allocated"), ("A-2", "backordered")):
        order = Order.objects.get(external_id=external_id)
        assert (order.status, order.version) == (status, 0)
        # Never updated: one history record, with the final status.
        assert list(order.history.values_list("pgh_label", "status")) == [
            ("insert", status)
        ]


def test_stock_that_moved_before_the_lock_has_the_orders_planned_again(
    shop, monkeypatch
):
    from inventory.services import stock_adjust
    from orders.importing import write

    queue = write.customer_emails_queue_many

    def queue_then_lose_stock(**kwargs):
        # The orders are written with the plan made on 3 in stock; 2 are
        # lost before the stock is locked.
        stock_adjust(
            stock_level=StockLevel.objects.get(),
            delta=-2,
            reason="damaged",
            actor=None,
        )
        return queue(**kwargs)

    monkeypatch.setattr(write, "customer_emails_queue_many", queue_then_lose_stock)

    confirmed = confirm_file(
        [
            row(ref="OLD", quantity="2", placed_at="2026-11-20 09:00"),
            row(ref="NEW", quantity="1", placed_at="2026-11-20 12:00"),
        ]
    )

    # Planned again on the 1 left: the oldest takes it and waits for the rest.
    assert confirmed.allocated == 0
    assert (status_of("OLD"), status_of("NEW")) == ("backordered", "backordered")
    old = Order.objects.get(external_id="OLD")
    assert list(old.history.order_by("pgh_id").values_list("pgh_label", "status")) == [
        ("insert", "allocated"),
        ("update", "backordered"),
    ]
    assert kinds("OLD") == ["imported", "allocated", "backordered"]
    assert kinds("NEW") == ["imported", "backordered"]
    level = StockLevel.objects.get()
    reserved = Allocation.objects.aggregate(total=Sum("quantity"))["total"]
    assert (level.on_hand, level.allocated, reserved) == (1, 1, 1)
