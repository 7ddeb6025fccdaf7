"""What a customer may do on their order themselves, and the requests they send
to customer service (orders/services/customer.py, returns/services/customer.py)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from fulfillment.models import Shipment
from fulfillment.services.picking import pick_lists_create
from orders.addresses import Address
from orders.exceptions import OrderError, OrderStateError
from orders.models import CustomerRequest, EmailKind, Order, OrderEvent
from orders.services.customer import (
    customer_request_create,
    customer_request_handle,
    order_cancel_by_customer,
    order_delivery_change_by_customer,
)
from returns.exceptions import ReturnError
from returns.services.customer import return_open_by_customer
from returns.services.returns import ReturnLineInput
from tests import factories
from tests.support.emails import customer_emails

BERLIN = Address(
    name="Ada Lovelace", address1="Invalidenstr. 1", city="Berlin",
    postcode="10115", country="DE",
)  # fmt: skip
DALLAS = Address(
    name="Ada Lovelace", address1="2 Elm St", city="Dallas", region="TX",
    postcode="75201", country="US",
)  # fmt: skip


# ---- changing the delivery


def test_customer_changes_address_before_packing(allocated, actor):
    updated = order_delivery_change_by_customer(
        order=allocated, actor=actor, address=DALLAS, requested_delivery_date=None
    )
    order = Order.objects.get(pk=allocated.pk)
    assert (order.ship_city, order.ship_postcode) == ("Dallas", "75201")
    assert updated.order.status == "allocated"
    event = order.events.filter(kind=OrderEvent.Kind.UPDATED).first()
    assert "by the customer, from 203.0.113.9" in event.message
    assert event.data["by"] == "customer"
    assert event.data["client_address"] == "203.0.113.9"
    assert event.user is None


def test_address_change_is_confirmed_by_email(
    allocated, actor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=DALLAS, requested_delivery_date=None
        )
    email = customer_emails(EmailKind.DELIVERY_CHANGED, order=allocated).get()
    assert email.payload["address_changed"] is True
    sent = [m for m in mail.outbox if "delivery" in m.subject.lower()]
    assert sent and "Dallas" in sent[0].body


def test_new_country_reroutes_the_reservation(
    place_order, stock, product, location, actor
):
    berlin = factories.LocationFactory(code="BER", country="DE", ships_to=["DE"])
    location.ships_to = ["US"]
    location.save()
    stock(product, 5)
    stock(product, 5, at=berlin)
    order = place_order([(product, 1)])
    assert order.lines.get().allocations.get().stock_level.location == location
    order_delivery_change_by_customer(
        order=order, actor=actor, address=BERLIN, requested_delivery_date=None
    )
    line = Order.objects.get(pk=order.pk).lines.get()
    assert line.allocations.get().stock_level.location == berlin


def test_address_failing_country_rules_is_refused(allocated, actor):
    bad = Address(name="Ada", address1="1 Main St", city="Austin", country="US")
    with pytest.raises(OrderError, match="new address"):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=bad, requested_delivery_date=None
        )
    assert Order.objects.get(pk=allocated.pk).ship_city == "Austin"


def test_requested_date_must_be_in_the_future(allocated, actor):
    with pytest.raises(OrderError, match="after today"):
        order_delivery_change_by_customer(
            order=allocated,
            actor=actor,
            address=None,
            requested_delivery_date=timezone.localdate(),
        )


def test_requested_date_within_ninety_days(allocated, actor):
    far = timezone.localdate() + timedelta(days=91)
    with pytest.raises(OrderError, match="90 days"):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=None, requested_delivery_date=far
        )
    soon = weekday_from(timezone.localdate() + timedelta(days=3))
    order_delivery_change_by_customer(
        order=allocated, actor=actor, address=None, requested_delivery_date=soon
    )
    assert Order.objects.get(pk=allocated.pk).requested_delivery_date == soon


def weekday_from(day):
    """The first Monday-to-Friday day from `day` (the default calendar)."""
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def test_a_day_the_location_does_not_work_is_refused_with_one_it_does(allocated, actor):
    today = timezone.localdate()
    sunday = today + timedelta(days=7 - today.isoweekday() or 7)
    assert sunday.isoweekday() == 7
    with pytest.raises(OrderError, match=r"we do not deliver on Sunday .*Monday"):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=None, requested_delivery_date=sunday
        )
    # A holiday of the location shipping the order, too.
    location = allocated.lines.first().allocations.first().stock_level.location
    holiday = weekday_from(today + timedelta(days=8))
    location.holidays = holiday.isoformat()
    location.save(update_fields=["holidays"])
    with pytest.raises(OrderError, match="we do not deliver on"):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=None, requested_delivery_date=holiday
        )


def test_unchanged_delivery_is_refused(allocated, actor):
    same = Address.from_fields(allocated)
    with pytest.raises(OrderError, match="Nothing to change"):
        order_delivery_change_by_customer(
            order=allocated, actor=actor, address=same, requested_delivery_date=None
        )


def test_delivery_cannot_change_after_packing(delivered, actor):
    with pytest.raises(OrderStateError, match="request"):
        order_delivery_change_by_customer(
            order=delivered, actor=actor, address=DALLAS, requested_delivery_date=None
        )


# ---- cancelling


def test_customer_cancels_before_the_pick_list(allocated, actor):
    order = order_cancel_by_customer(order=allocated, actor=actor, reason="too slow")
    assert order.status == "cancelled"
    event = order.events.get(kind=OrderEvent.Kind.CANCELLED)
    assert "customer request on the order page: too slow" in event.message
    assert event.data["client_address"] == "203.0.113.9"
    assert not allocated.lines.get().allocations.exists()


def test_customer_cannot_cancel_once_picking(allocated, actor, user):
    pick_lists_create(order_ids=[allocated.pk], actor=user)
    with pytest.raises(OrderStateError, match="request"):
        order_cancel_by_customer(order=allocated, actor=actor)
    assert Order.objects.get(pk=allocated.pk).status == "picking"


# ---- requests to customer service


def test_cancel_request_after_pick_list_lands_in_the_queue(allocated, actor, user):
    pick_lists_create(order_ids=[allocated.pk], actor=user)
    request = customer_request_create(
        order=allocated, actor=actor, kind=CustomerRequest.Kind.CANCEL, message="oops"
    )
    assert request.status == "open" and request.client_address == "203.0.113.9"
    event = allocated.events.filter(data__request=request.pk).get()
    assert "by the customer" in event.message


def test_request_refused_while_customer_can_do_it_themselves(allocated, actor):
    with pytest.raises(OrderStateError):
        customer_request_create(
            order=allocated, actor=actor, kind=CustomerRequest.Kind.CANCEL, message="x"
        )
    with pytest.raises(OrderStateError):
        customer_request_create(
            order=allocated,
            actor=actor,
            kind=CustomerRequest.Kind.CHANGE_DELIVERY,
            message="x",
        )


def test_one_open_request_of_a_kind(shipped, product, actor):
    order = shipped([(product, 1)])
    kind = CustomerRequest.Kind.CHANGE_DELIVERY
    customer_request_create(order=order, actor=actor, kind=kind, message="Leave it")
    with pytest.raises(OrderError, match="already asked"):
        customer_request_create(order=order, actor=actor, kind=kind, message="again")


def test_request_needs_a_message(shipped, product, actor):
    order = shipped([(product, 1)])
    with pytest.raises(OrderError, match="Your message"):
        customer_request_create(
            order=order,
            actor=actor,
            kind=CustomerRequest.Kind.CHANGE_DELIVERY,
            message="  ",
        )


def test_staff_closes_a_request_once(shipped, product, actor, user):
    order = shipped([(product, 1)])
    request = customer_request_create(
        order=order,
        actor=actor,
        kind=CustomerRequest.Kind.CHANGE_DELIVERY,
        message="Neighbour",
    )
    handled = customer_request_handle(
        request=request, actor=user, status="done", reply="We called the carrier."
    )
    assert (handled.status, handled.handled_by) == ("done", user)
    with pytest.raises(OrderStateError, match="already done"):
        customer_request_handle(
            request=request, actor=user, status="declined", reply="Too late."
        )


# ---- returns


def test_customer_returns_delivered_items(delivered, actor):
    line = delivered.lines.get()
    rma = return_open_by_customer(
        order=delivered,
        actor=actor,
        lines=[ReturnLineInput(order_line=line, quantity=2, reason="does_not_fit")],
        note="Too small",
    )
    assert (rma.status, rma.customer_note) == ("requested", "Too small")
    assert rma.created_by is None
    event = delivered.events.filter(kind=OrderEvent.Kind.RETURN).first()
    assert "by the customer" in event.message


def test_return_refused_before_delivery(shipped, product, actor):
    order = shipped([(product, 1)])
    line = order.lines.get()
    with pytest.raises(ReturnError, match="not been delivered"):
        return_open_by_customer(
            order=order,
            actor=actor,
            lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
        )


def test_return_refused_after_the_channel_window(delivered, actor):
    Shipment.objects.filter(order=delivered).update(
        delivered_at=timezone.now() - timedelta(days=31)
    )
    line = delivered.lines.get()
    with pytest.raises(ReturnError, match="window .* closed"):
        return_open_by_customer(
            order=delivered,
            actor=actor,
            lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
        )


def test_return_window_is_per_channel(delivered, actor):
    Shipment.objects.filter(order=delivered).update(
        delivered_at=timezone.now() - timedelta(days=31)
    )
    delivered.channel.return_window_days = 60
    delivered.channel.save()
    line = delivered.lines.get()
    rma = return_open_by_customer(
        order=delivered,
        actor=actor,
        lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
    )
    assert rma.status == "requested"


def test_channel_without_window_takes_no_returns_on_the_page(delivered, actor):
    delivered.channel.return_window_days = 0
    delivered.channel.save()
    line = delivered.lines.get()
    with pytest.raises(ReturnError, match="customer service"):
        return_open_by_customer(
            order=delivered,
            actor=actor,
            lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
        )


def test_return_cannot_exceed_what_was_delivered(delivered, actor):
    line = delivered.lines.get()
    with pytest.raises(ReturnError, match="at most 3"):
        return_open_by_customer(
            order=delivered,
            actor=actor,
            lines=[ReturnLineInput(order_line=line, quantity=4, reason="other")],
        )
