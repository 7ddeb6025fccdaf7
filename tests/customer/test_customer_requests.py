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
