"""The outbox's data migrations, run on rows the old code left behind."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from connections.models import OutboundMessage
from fulfillment.models import Shipment, WebhookDelivery

pytestmark = pytest.mark.django_db

retries = importlib.import_module(
    "connections.migrations.0003_webhook_retries_to_outbox"
)


def test_planned_webhook_retries_become_outbox_messages_and_the_rest_stays(
    shipped, product, channel
):
    order = shipped([(product, 1)])
    shipment = Shipment.objects.get(order=order)
    due = timezone.now() + timedelta(minutes=4)

    def delivery(**fields):
        return WebhookDelivery.objects.create(
            channel=channel,
            order=order,
            shipment=shipment,
            event="shipment.shipped",
            url="https://shop.example/hook",
            payload={"event": "shipment.shipped"},
            **fields,
        )

    planned = delivery(attempt=2, message_id="msg_planned", next_attempt_at=due)
    delivery(attempt=1, message_id="msg_done", succeeded=True, response_code=200)
    delivery(attempt=6, message_id="msg_given_up")

    retries.webhook_retries_move(apps, None)

    [message] = OutboundMessage.objects.filter(kind="shipment.shipped")
    assert (message.message_id, message.status, message.attempts) == (
        "msg_planned",
        "pending",
        2,
    )
    assert message.next_attempt_at == due and message.platform == "generic"
    assert message.payload == {"event": "shipment.shipped"}
    planned.refresh_from_db()
    assert planned.next_attempt_at is None  # the old log is history now
    assert WebhookDelivery.objects.count() == 3
