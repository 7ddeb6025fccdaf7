"""Shipment webhooks whose retry was still planned in the old delivery log
(fulfillment's WebhookDelivery) become outbox messages, due when their retry
was, with the same `webhook-id`: none is lost when the old pipeline stops.
The old log stays as read-only history."""

from django.db import migrations
from django.utils import timezone

EVENTS = ("shipment.shipped", "shipment.tracking_updated", "shipment.delivered")
OLD_MAX_ATTEMPTS = 6
MAX_ATTEMPTS = 10


def webhook_retries_move(apps, schema_editor):
    WebhookDelivery = apps.get_model("fulfillment", "WebhookDelivery")
    OutboundMessage = apps.get_model("connections", "OutboundMessage")
    planned = WebhookDelivery.objects.filter(
        succeeded=False,
        next_attempt_at__isnull=False,
        attempt__lt=OLD_MAX_ATTEMPTS,
        event__in=EVENTS,
    ).order_by("pk")
    messages = [
        OutboundMessage(
            channel_id=delivery.channel_id,
            platform="generic",
            kind=delivery.event,
            dedupe_key=(delivery.message_id or f"delivery-{delivery.pk}")[:100],
            order_id=delivery.order_id,
            shipment_id=delivery.shipment_id,
            payload=delivery.payload,
            message_id=delivery.message_id or f"msg_delivery_{delivery.pk}",
            status="pending",
            attempts=delivery.attempt,
            attempts_left=max(1, MAX_ATTEMPTS - delivery.attempt),
            next_attempt_at=max(delivery.next_attempt_at, timezone.now()),
            last_error=delivery.error[:500],
            response_code=delivery.response_code,
        )
        for delivery in planned
    ]
    OutboundMessage.objects.bulk_create(messages, batch_size=1000)
    planned.update(next_attempt_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_outbox"),
        ("fulfillment", "0014_pick_scans"),
    ]

    operations = [
        migrations.RunPython(webhook_retries_move, migrations.RunPython.noop),
    ]
