"""The inbox's tables (inbound messages, channel API keys) come over from the
orders app: state only, the tables keep their names and rows. Their content
types move with them, so permissions and admin history stay attached."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = ("inboundmessage", "channelapikey")


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="connections", model=model).exists():
            ContentType.objects.filter(app_label="orders", model=model).update(
                app_label="connections"
            )


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="orders", model=model).exists():
            ContentType.objects.filter(app_label="connections", model=model).update(
                app_label="orders"
            )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0022_timeline_and_tags_without_db_foreign_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ChannelApiKey",
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
                        (
                            "name",
                            models.CharField(
                                blank=True, help_text="Who uses it.", max_length=100
                            ),
                        ),
                        (
                            "prefix",
                            models.CharField(editable=False, max_length=16, unique=True),
                        ),
                        ("key_hash", models.CharField(editable=False, max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "last_used_at",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_keys",
                                to="orders.channel",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "API key",
                        "db_table": "orders_channelapikey",
                        "ordering": ["channel", "-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="InboundMessage",
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
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("api", "Order API"),
                                    ("shopify", "Shopify webhook"),
                                    ("woocommerce", "WooCommerce webhook"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("topic", models.CharField(max_length=64)),
                        (
                            "delivery_id",
                            models.CharField(
                                blank=True,
                                help_text="The platform's id of this delivery (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID); a second delivery with it is a duplicate.",
                                max_length=128,
                            ),
                        ),
                        ("idempotency_key", models.CharField(blank=True, max_length=255)),
                        (
                            "body_hash",
                            models.CharField(blank=True, editable=False, max_length=64),
                        ),
                        ("external_id", models.CharField(blank=True, max_length=64)),
                        (
                            "received_at",
                            models.DateTimeField(default=django.utils.timezone.now),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("received", "Received"),
                                    ("processed", "Processed"),
                                    ("failed", "Failed"),
                                    ("duplicate", "Duplicate"),
                                    ("ignored", "Ignored"),
                                ],
                                default="received",
                                max_length=12,
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("body", models.TextField(blank=True)),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        (
                            "response_status",
                            models.PositiveSmallIntegerField(blank=True, null=True),
                        ),
                        ("response", models.JSONField(blank=True, null=True)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="inbound_messages",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="inbound_messages",
                                to="orders.order",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "orders_inboundmessage",
                        "ordering": ["-received_at", "-pk"],
                        "permissions": [
                            ("replay_inboundmessage", "Can replay inbound messages")
                        ],
                        "indexes": [
                            models.Index(
                                fields=["status", "received_at"], name="inbound_status"
                            ),
                            models.Index(
                                fields=["-received_at", "-id"], name="inbound_received"
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("delivery_id", ""), _negated=True),
                                fields=("channel", "source", "delivery_id"),
                                name="inbound_delivery_unique",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("idempotency_key", ""), _negated=True),
                                fields=("channel", "idempotency_key"),
                                name="inbound_idempotency_key_unique",
                            ),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_move, content_types_back),
    ]
