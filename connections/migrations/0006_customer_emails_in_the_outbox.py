"""Customer e-mails become messages of the one outbox: the new fields and
kinds, paused destinations, and the e-mails queued, sent or failed so far
copied over before `orders.0036` drops their table (Django runs this first:
`run_before`). An e-mail that was being handed to the mail server when the
old sender stopped is copied as failed ("may have been delivered"), never
sent again."""

from django.conf import settings
from django.db import migrations, models

COPY = """
INSERT INTO fulfillment_outboundmessage (
    channel_id, platform, kind, dedupe_key, order_id, payload, message_id,
    status, attempts, attempts_left, next_attempt_at, last_error, remote_id,
    "to", subject, claimed_by, created_at, updated_at, sent_at)
SELECT o.channel_id, 'email', 'email.' || e.kind,
    substring(e.key from position(':' in e.key) + 1), e.order_id, e.context, '',
    CASE e.status WHEN 'sent' THEN 'sent'
        WHEN 'failed' THEN 'failed' WHEN 'sending' THEN 'failed'
        ELSE 'pending' END,
    e.attempts, greatest(%(attempts)s - e.attempts, 1),
    CASE WHEN e.status IN ('queued', 'claimed') THEN now() END,
    CASE WHEN e.status = 'sending'
        THEN 'The sender stopped while handing this e-mail to the mail '
            'server; it may have been delivered. Replay it if the customer '
            'did not get it.'
        ELSE left(e.last_error, 500) END,
    '', e."to", e.subject, '', e.created_at, now(), e.sent_at
FROM orders_customeremail e JOIN orders_order o ON o.id = e.order_id
ON CONFLICT DO NOTHING
"""


def copy_emails(apps, schema_editor):
    attempts = int(getattr(settings, "OMS_OUTBOX_MAX_ATTEMPTS", 10))
    schema_editor.execute(COPY, {"attempts": attempts})


class Migration(migrations.Migration):
    run_before = [("orders", "0036_customer_emails_in_the_outbox")]

    dependencies = [
        ("connections", "0005_stock_push_sequence"),
        ("fulfillment", "0021_secrets_encrypted"),
        ("inventory", "0011_history_triggers_without_shared_context"),
        ("orders", "0035_secrets_encrypted"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxDestination",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True)),
                ("paused_until", models.DateTimeField(blank=True, null=True)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("last_error", models.CharField(blank=True, max_length=500)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "connections_outboxdestination",
                "ordering": ["key"],
            },
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="claimed_by",
            field=models.CharField(blank=True, editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="subject",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="to",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("fulfillment.create", "Fulfilment with tracking"),
                    ("fulfillment.tracking_update", "Tracking changed"),
                    ("order.completed", "Order completed"),
                    ("order.created", "Order created"),
                    ("order.cancelled", "Order cancelled"),
                    ("order.refunded", "Order refunded"),
                    ("inventory.updated", "Available stock"),
                    ("shipment.shipped", "Shipment shipped (webhook)"),
                    ("shipment.tracking_updated", "Tracking news (webhook)"),
                    ("shipment.delivered", "Shipment delivered (webhook)"),
                    ("email.order_received", "E-mail: order received"),
                    ("email.order_shipped", "E-mail: shipped"),
                    ("email.shipment_delayed", "E-mail: delayed"),
                    ("email.order_delivered", "E-mail: delivered"),
                    ("email.order_cancelled", "E-mail: order cancelled"),
                    ("email.return_approved", "E-mail: return approved"),
                    ("email.return_rejected", "E-mail: return rejected"),
                    ("email.refund_issued", "E-mail: refund issued"),
                    ("email.delivery_changed", "E-mail: delivery changed"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("claimed", "Claimed by a sender"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("superseded", "Superseded by a newer update"),
                ],
                db_index=True,
                default="pending",
                max_length=12,
            ),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                condition=models.Q(("platform", "email")),
                fields=["order"],
                name="outbound_email_order",
            ),
        ),
        migrations.RunPython(copy_emails, migrations.RunPython.noop),
    ]
