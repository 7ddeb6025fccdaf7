"""Tracking events move shipments and orders, and tell the customer."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from fulfillment.exceptions import TrackingError
from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent
from fulfillment.services.tracking import (
    TrackingUpdate,
    tracking_updates_record,
)
from fulfillment.tracking_formats import parse_tracking_csv
from orders.models import OrderEvent, OrderStatus
from tests.support.emails import customer_emails
from tests.support.tracking import T0, record

pytestmark = pytest.mark.django_db


def test_shipping_mails_the_carrier_tracking_link_and_eta(
    stock, place_order, product, user, carrier, django_capture_on_commit_callbacks
):
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create
    from fulfillment.services.shipping import shipment_ship

    stock(product, 2)
    order = place_order([(product, 2)])
    pick_lists_create(order_ids=[order.pk], actor=user)
    shipment = Shipment.objects.get(order=order)
    shipment_pack(shipment=shipment, actor=user)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        shipment_ship(
            shipment=shipment,
            actor=user,
            carrier=carrier,
            service="Express",
            tracking_number="1Z 42",
            estimated_delivery=date(2026, 3, 4),
        )

    [message] = mail.outbox
    assert message.subject == f"Your order {order.number} is on its way"
    assert "with Parcel Express (Express)" in message.body
    assert "Track it: https://track.example/1Z%2042" in message.body
    assert "Expected delivery: Wednesday 4 March 2026" in message.body
    html = message.alternatives[0][0]
    assert '<a href="https://track.example/1Z%2042">track your parcel</a>' in html
    timeline = OrderEvent.objects.get(order=order, kind="email")
    assert timeline.message.startswith(f"E-mail “{message.subject}” sent to")


def test_in_transit_event_moves_the_shipment_and_its_eta(parcel):
    event = record(
        parcel,
        "in_transit",
        T0,
        place="Reno, NV",
        description="Departed facility",
        estimated_delivery=date(2026, 3, 5),
    )

    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.IN_TRANSIT
    assert parcel.estimated_delivery == date(2026, 3, 5)
    timeline = OrderEvent.objects.get(order=parcel.order_id, kind="tracking")
    assert timeline.message == (
        f"Shipment {parcel.number}: in transit at Reno, NV — Departed facility."
    )
    assert timeline.data["event"] == event.pk


def test_the_same_event_twice_is_recorded_once(parcel):
    assert record(parcel, "in_transit", T0) is not None
    assert record(parcel, "in_transit", T0) is None
    assert TrackingEvent.objects.count() == 1


def test_exception_keeps_its_reason_and_mails_the_customer_once(
    parcel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(parcel, "in_transit", T0)
        record(
            parcel,
            "exception",
            T0 + timedelta(hours=5),
            exception_reason="damaged",
            description="Box crushed",
        )
        record(parcel, "exception", T0 + timedelta(hours=9), exception_reason="damaged")

    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("exception", "damaged")
    [message] = mail.outbox
    assert message.subject == f"News about your order {parcel.order.number}"
    assert f"problem with your parcel {parcel.number}: damaged (Box crushed)" in (
        message.body
    )
    assert "<strong>damaged (Box crushed)</strong>" in message.alternatives[0][0]


def test_later_eta_mails_a_delay(parcel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record(parcel, "in_transit", T0, estimated_delivery=date(2026, 3, 4))
        record(
            parcel,
            "in_transit",
            T0 + timedelta(days=1),
            estimated_delivery=date(2026, 3, 6),
        )

    [message] = mail.outbox
    assert "the carrier now expects it on Friday 6 March 2026 instead of" in (
        message.body
    )
    assert "New expected delivery: Friday 6 March 2026" in message.body


def test_older_event_is_history_and_does_not_move_the_shipment_back(parcel):
    record(parcel, "exception", T0 + timedelta(hours=3), exception_reason="address")
    record(parcel, "in_transit", T0, estimated_delivery=date(2026, 3, 9))

    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("exception", "address")
    assert parcel.estimated_delivery is None
    assert parcel.tracking_events.count() == 2


def test_exception_then_transit_clears_the_problem(parcel):
    record(parcel, "exception", T0, exception_reason="delayed")
    record(parcel, "in_transit", T0 + timedelta(days=1))
    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("in_transit", "")


def test_delivered_event_delivers_the_order_and_mails_once(
    parcel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(parcel, "out_for_delivery", T0)
        parcel.refresh_from_db()
        assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY
        record(parcel, "delivered", T0 + timedelta(hours=4), place="Austin, TX")
        record(parcel, "delivered", T0 + timedelta(hours=4))  # resent

    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.DELIVERED
    assert parcel.delivered_at == T0 + timedelta(hours=4)
    assert parcel.order.status == OrderStatus.DELIVERED
    [message] = mail.outbox
    assert message.subject == f"Your order {parcel.order.number} was delivered"
    assert "Your order has been delivered." in message.body
    assert customer_emails("order_delivered").get().status == "sent"
    assert OrderEvent.objects.filter(
        order=parcel.order_id, kind="email", message__contains="was delivered"
    ).exists()


def test_order_of_two_shipments_is_delivered_with_the_last(
    stock, place_order, product, user, carrier
):
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create
    from fulfillment.services.shipping import shipment_ship
    from tests.factories import LocationFactory

    east = LocationFactory(code="EAST", priority=50)
    stock(product, 1)
    stock(product, 1, at=east)
    order = place_order([(product, 2)])
    pick_lists_create(order_ids=[order.pk], actor=user)
    first, second = Shipment.objects.order_by("number")
    for n, shipment in enumerate((first, second)):
        shipment_pack(shipment=shipment, actor=user)
        shipment_ship(
            shipment=shipment, actor=user, carrier=carrier, tracking_number=f"X{n}"
        )

    record(first, "delivered", T0)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    record(second, "delivered", T0)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_channel_that_mails_its_own_customers_gets_no_tracking_mail(
    parcel, django_capture_on_commit_callbacks
):
    channel = parcel.order.channel
    channel.send_customer_emails = False
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        record(parcel, "exception", T0, exception_reason="lost")
    assert mail.outbox == []


def test_tracking_before_shipping_is_refused(picked, product, stock):
    stock(product, 1)
    picked([[(product, 1)]])
    shipment = Shipment.objects.get()
    with pytest.raises(TrackingError, match="tracking starts once it has shipped"):
        record(shipment, "in_transit", T0)


def test_a_batch_with_an_unknown_tracking_number_writes_nothing(parcel):
    updates = [
        TrackingUpdate(parcel.tracking_number, "in_transit", T0, where="Line 2"),
        TrackingUpdate("NOPE", "delivered", T0, where="Line 3"),
    ]
    with pytest.raises(TrackingError) as caught:
        tracking_updates_record(updates=updates, actor=None, source="csv")
    assert caught.value.errors == ["Line 3: no shipment has tracking number 'NOPE'."]
    assert caught.value.status == 404
    assert not TrackingEvent.objects.exists()


def test_csv_rows_are_read_with_errors_by_line():
    text = (
        "tracking number,status,time,place,description,estimated delivery\n"
        "TR-1,In transit,2026-03-02 09:00,Reno,Departed,2026-03-05\n"
        "TR-1,lost somewhere,2026-03-02,Reno,,\n"
        "TR-2,exception,yesterday,,,3/5\n"
        "TR-3,exception,2026-03-02T10:00:00+01:00,,Dented,,damaged\n"
    )
    with pytest.raises(TrackingError) as caught:
        parse_tracking_csv(text)
    assert caught.value.errors == [
        "Line 3: status 'lost somewhere' is not one of in_transit, out_for_delivery, "
        "delivered, exception.",
        "Line 4: time 'yesterday' is not a date and time like 2026-03-01T14:05:00Z; "
        "estimated delivery '3/5' is not a date like 2026-03-04.",
    ]
    good = parse_tracking_csv(text.splitlines()[1] + "\n" + text.splitlines()[4])
    assert good[0].status == "in_transit"
    assert good[0].estimated_delivery == date(2026, 3, 5)
    assert good[1].exception_reason == "damaged"
    assert good[1].occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
