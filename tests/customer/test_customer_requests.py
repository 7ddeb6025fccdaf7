"""Customer requests are a conversation: answered on the order's admin page
(or the request's own) with Done or Decline and a reply, which the customer
is e-mailed and sees on their order page; the queue shows how long each has
waited."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from oms.customer.selectors import customer_page
from orders.customer_access import customer_page_path, customer_page_token
from orders.exceptions import OrderError
from orders.models import CustomerRequest
from orders.services.customer import customer_request_create, customer_request_handle
from tests.support.emails import customer_emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(shipped, product, actor):
    order = shipped([(product, 1)])
    return customer_request_create(
        order=order,
        actor=actor,
        kind=CustomerRequest.Kind.CHANGE_DELIVERY,
        message="Please leave it with the neighbour at no. 3.",
    )


def test_declining_needs_a_reply_the_customer_can_read(asked, user):
    with pytest.raises(OrderError, match="why the request is declined"):
        customer_request_handle(request=asked, actor=user, status="declined")
    asked.refresh_from_db()
    assert asked.status == "open"


def test_a_request_is_answered_on_the_order_page_and_the_customer_is_emailed(
    asked, admin_client, django_capture_on_commit_callbacks
):
    order_url = reverse("admin:orders_order_change", args=[asked.order_id])
    page = admin_client.get(order_url).content.decode()
    assert 'id="order-requests"' in page
    assert "Please leave it with the neighbour" in page
    decline = reverse("admin:orders_customerrequest_step", args=[asked.pk, "decline"])
    assert decline in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"{decline}?next={order_url}",
            {"reply": "The parcel has left; the carrier cannot change it now."},
        )
    assert response.status_code == 302 and response.url == order_url
    asked.refresh_from_db()
    assert (asked.status, asked.reply) == (
        "declined",
        "The parcel has left; the carrier cannot change it now.",
    )
    # E-mailed once, through the outbox, with the reply.
    [email] = customer_emails("request_answered", order=asked.order)
    assert email.status == "sent"
    [message] = [m for m in mail.outbox if "Your request about order" in m.subject]
    assert message.subject.endswith(": declined")
    assert "The parcel has left" in message.body
    # The request is gone from the order page's open ones, on the timeline.
    assert 'id="order-requests"' not in admin_client.get(order_url).content.decode()
    assert asked.order.events.filter(message__contains="replied: The parcel").exists()


def test_the_customer_sees_the_outcome_and_the_reply(asked, user, client):
    customer_request_handle(
        request=asked, actor=user, status="done", reply="Done: we told the carrier."
    )
    page = customer_page(token=customer_page_token(order=asked.order))
    assert page.open_requests == [] and page.answered_requests == [asked]
    html = client.get(customer_page_path(order=asked.order)).content.decode()
    assert re.search(r'data-outcome="done">Change delivery — done on', html)
    assert "Done: we told the carrier." in html


def test_the_queue_shows_the_order_and_how_long_it_waited(asked, admin_client):
    response = admin_client.get(reverse("admin:orders_customerrequest_changelist"))
    html = response.content.decode()
    assert asked.order.number in html
    assert re.search(r'class="field-age">\d+\xa0minutes?<', html) or re.search(
        r'class="field-age">0\xa0minutes<', html
    )


def test_an_empty_reply_is_fine_for_done(asked, user):
    handled = customer_request_handle(request=asked, actor=user, status="done")
    assert handled.status == "done"
    assert customer_emails("request_answered", order=asked.order).exists()


@pytest.fixture
def packed_cancel(place_order, stock, product, user, actor):
    """A packed order whose customer asked to cancel."""
    from fulfillment.models import Shipment
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create

    stock(product, 2)
    order = place_order([(product, 2)])
    pick_lists_create(order_ids=[order.pk], actor=user)
    for shipment in Shipment.objects.filter(order=order):
        shipment_pack(shipment=shipment, actor=user)
    order.refresh_from_db()
    assert order.status == "packed"
    return customer_request_create(
        order=order, actor=actor, kind=CustomerRequest.Kind.CANCEL, message="Sorry!"
    )


def test_a_cancel_request_on_a_packed_order_is_carried_out_from_its_page(
    packed_cancel, admin_client, product, django_capture_on_commit_callbacks
):
    from fulfillment.models import Shipment
    from inventory.models import StockLevel

    page_url = reverse("admin:orders_customerrequest_change", args=[packed_cancel.pk])
    step = reverse(
        "admin:orders_customerrequest_step", args=[packed_cancel.pk, "unpack_cancel"]
    )
    assert step in admin_client.get(page_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(step, {"reply": "Cancelled; no charge."})
    assert response.status_code == 302
    order = packed_cancel.order
    order.refresh_from_db()
    packed_cancel.refresh_from_db()
    assert order.status == "cancelled"
    assert packed_cancel.status == "done"
    assert set(
        Shipment.objects.filter(order=order).values_list("status", flat=True)
    ) == {"cancelled"}
    # The stock is free again: nothing reserved for the cancelled order.
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.allocated) == (2, 0)
    assert customer_emails("request_answered", order=order).exists()
    assert order.events.filter(message__contains="unpacked and cancelled").exists()


def test_unpack_and_cancel_is_offered_only_for_cancel_requests_it_can_carry_out(
    asked, admin_client
):
    page_url = reverse("admin:orders_customerrequest_change", args=[asked.pk])
    # A change request on a shipped order: Done and Decline only.
    html = admin_client.get(page_url).content.decode()
    assert "unpack_cancel" not in html and 'data-step="decline"' in html


def test_a_label_bought_stops_the_unpack(packed_cancel, user):
    from fulfillment.exceptions import FulfillmentError
    from fulfillment.models import Shipment, ShipmentPostage
    from fulfillment.services.unpacking import order_unpack_and_cancel

    shipment = Shipment.objects.get(order=packed_cancel.order)
    ShipmentPostage.objects.create(shipment=shipment, status="bought")
    with pytest.raises(FulfillmentError, match=f"{shipment.number} has a label"):
        order_unpack_and_cancel(order=packed_cancel.order, actor=user, reason="x")
    packed_cancel.order.refresh_from_db()
    assert packed_cancel.order.status == "packed"
