"""Generic channels hear about orders through signed Standard Webhooks."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connections.models import OutboundMessage
from connections.outbox.sending import outbox_send_due_run
from orders.services.channels import channel_secret_generate
from orders.services.lifecycle import order_cancel
from returns.services.refunds import refund_approve, refund_create
from tests.support.shops import GenericChannel

pytestmark = pytest.mark.django_db

SECRET = channel_secret_generate()


@pytest.fixture
def listening(channel):
    with GenericChannel(SECRET) as server:
        channel.webhook_url = server.url
        channel.webhook_secret = SECRET
        channel.save()
        yield server


def test_a_new_order_and_its_cancellation_are_signed_webhooks(
    listening, place_order, product, stock, user, django_capture_on_commit_callbacks
):
    stock(product, 3)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=order, actor=user, reason="customer changed their mind")

    created, cancelled = listening.received
    assert created["signed"] and cancelled["signed"]
    assert created["event"] == "order.created"
    assert created["body"]["order"]["number"] == order.number
    assert created["body"]["lines"] == [{"sku": "TSH-BLK-M", "quantity": 2}]
    assert cancelled["event"] == "order.cancelled"
    assert cancelled["body"]["reason"] == "customer changed their mind"
    assert created["id"] != cancelled["id"]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_an_approved_refund_is_a_signed_webhook(
    listening, shipped, product, user, django_capture_on_commit_callbacks
):
    order = shipped([(product, 1)])
    refund = refund_create(order=order, amount="4.50", actor=user, reason="late")

    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund=refund, actor=user, external_reference="re_123")

    refunded = [r for r in listening.received if r["event"] == "order.refunded"]
    [message] = refunded
    assert message["signed"]
    assert message["body"]["refund"]["number"] == refund.number
    assert Decimal(message["body"]["refund"]["amount"]) == Decimal("4.50")


def test_a_failing_generic_channel_is_retried_with_the_same_webhook_id(
    channel, place_order, product, stock, django_capture_on_commit_callbacks
):
    stock(product, 1)
    with GenericChannel(SECRET) as server:
        server.fail_with = [500]
        channel.webhook_url = server.url
        channel.webhook_secret = SECRET
        channel.save()
        with django_capture_on_commit_callbacks(execute=True):
            place_order([(product, 1)])
        outbox_send_due_run(now=timezone.now() + timedelta(minutes=5))

    first, second = server.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert server.received[0]["signed"]
    assert OutboundMessage.objects.exclude(platform="email").get().status == "sent"
