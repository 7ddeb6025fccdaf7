"""Scans ordered by what they mean, then by their time: a wrongly dated scan
never blocks the real delivery, and delivered is final."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import ShipmentStatus, TrackingEvent
from fulfillment.scan_order import Effect, scan_effect
from fulfillment.services.tracking import (
    TrackingUpdate,
    tracking_updates_record,
)
from orders.models import OrderEvent, OrderStatus
from tests.support.tracking import T0, record

pytestmark = pytest.mark.django_db


def test_a_scan_dated_hours_ahead_does_not_block_the_real_delivery(parcel):
    now = timezone.now()
    # Local time sent as UTC: dated 9 hours after it reached us.
    ahead = record(parcel, "in_transit", now + timedelta(hours=9))
    delivered = record(parcel, "delivered", now - timedelta(minutes=1))

    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED
    assert parcel.order.status == OrderStatus.DELIVERED
    assert parcel.delivered_at == delivered.occurred_at
    ahead.refresh_from_db()
    assert ahead.dated_ahead and ahead.occurred_at == now + timedelta(hours=9)
    assert not delivered.dated_ahead
    message = OrderEvent.objects.get(data__event=ahead.pk).message
    assert "after it reached us; it counts from its arrival" in message


def test_a_later_stage_older_than_a_wrongly_dated_scan_is_applied(parcel):
    now = timezone.now()
    record(parcel, "in_transit", now + timedelta(hours=5))
    record(parcel, "out_for_delivery", now - timedelta(minutes=10))
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY


def test_a_scan_within_the_clock_tolerance_is_not_flagged(parcel):
    event = record(parcel, "in_transit", timezone.now() + timedelta(minutes=5))
    assert not event.dated_ahead


def test_a_delivery_dated_ahead_is_delivered_at_its_arrival(parcel):
    before = timezone.now()
    event = record(parcel, "delivered", before + timedelta(hours=3))
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED
    assert event.dated_ahead
    assert before <= parcel.delivered_at <= timezone.now()


def test_delivered_first_then_in_transit_stays_delivered_with_both_on_the_timeline(
    parcel,
):
    delivered = record(parcel, "delivered", T0 + timedelta(days=2))
    late = record(parcel, "in_transit", T0 + timedelta(days=3), place="Hub")

    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED
    assert parcel.order.status == OrderStatus.DELIVERED
    assert parcel.delivered_at == delivered.occurred_at
    assert set(parcel.tracking_events.values_list("pk", flat=True)) == {
        delivered.pk,
        late.pk,
    }
    timeline = OrderEvent.objects.filter(order=parcel.order_id, kind="tracking")
    assert {event.data["event"] for event in timeline} == {delivered.pk, late.pk}
    late_entry = timeline.get(data__event=late.pk)
    assert late_entry.data["applied"] is False
    assert "stays delivered" in late_entry.message


def test_an_earlier_stage_after_a_later_one_does_not_move_the_shipment_back(parcel):
    record(parcel, "out_for_delivery", T0)
    record(parcel, "in_transit", T0 + timedelta(hours=1))
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY
    assert parcel.tracking_events.count() == 2


def test_an_exception_newer_than_a_late_stage_scan_stays(parcel):
    record(parcel, "exception", T0 + timedelta(hours=3), exception_reason="delayed")
    record(parcel, "out_for_delivery", T0 + timedelta(hours=1))
    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("exception", "delayed")
    # The stage moved on: a newer scan of it clears the problem.
    record(parcel, "out_for_delivery", T0 + timedelta(hours=5))
    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("out_for_delivery", "")


def test_return_to_sender_after_delivery_is_history(parcel):
    record(parcel, "delivered", T0)
    record(parcel, "exception", T0 + timedelta(days=1), exception_reason="returned")
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED


def test_a_batch_in_any_order_ends_delivered(parcel):
    now = timezone.now()
    updates = [
        TrackingUpdate(parcel.tracking_number, status, at)
        for status, at in [
            ("delivered", now - timedelta(hours=1)),
            ("in_transit", now + timedelta(hours=20)),
            ("out_for_delivery", now - timedelta(hours=3)),
        ]
    ]
    report = tracking_updates_record(updates=updates, actor=None, source="carrier")
    assert len(report.recorded) == 3
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=parcel, dated_ahead=True).count() == 1


@pytest.mark.parametrize(
    ("status", "at", "shipment_status", "stage", "effect"),
    [
        ("delivered", T0, "out_for_delivery", 2, Effect.DELIVER),
        ("delivered", T0 - timedelta(days=9), "in_transit", 1, Effect.DELIVER),
        ("in_transit", T0, "delivered", 3, Effect.HISTORY),
        ("out_for_delivery", T0 - timedelta(hours=1), "in_transit", 1, Effect.MOVE),
        ("in_transit", T0 + timedelta(hours=1), "out_for_delivery", 2, Effect.HISTORY),
        ("in_transit", T0 + timedelta(hours=1), "in_transit", 1, Effect.MOVE),
        ("in_transit", T0 - timedelta(hours=1), "exception", 1, Effect.HISTORY),
        ("exception", T0 - timedelta(hours=1), "in_transit", 1, Effect.HISTORY),
        ("exception", T0 + timedelta(hours=1), "out_for_delivery", 2, Effect.MOVE),
    ],
)
def test_scan_effect_rules(status, at, shipment_status, stage, effect):
    assert (
        scan_effect(
            status=status,
            at=at,
            shipment_status=shipment_status,
            stage=stage,
            newest=T0,
        )[0]
        == effect
    )
