"""The outbox's tables (outbound messages, their attempts, channel listings)
come over from the fulfillment app: state only, the tables keep their names
and rows. Their content types move with them, so permissions (Replay) and
admin history stay attached. Shipment webhooks become outbox kinds."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("outboundmessage", "outboundattempt", "channellisting")


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(
            app_label="connections", model=model
        ).exists():
            ContentType.objects.filter(app_label="fulfillment", model=model).update(
                app_label="connections"
            )


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(
            app_label="fulfillment", model=model
        ).exists():
            ContentType.objects.filter(app_label="connections", model=model).update(
                app_label="fulfillment"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_inbox"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("fulfillment", "0014_pick_scans"),
        ("inventory", "0004_location_countries"),
        ("orders", "0015_channel_platforms_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="OutboundMessage",
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
                        ("platform", models.CharField(max_length=16)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("fulfillment.create", "Fulfilment with tracking"),
                                    ("fulfillment.tracking_update", "Tracking changed"),
                                    ("order.completed", "Order completed"),
                                    ("order.created", "Order created"),
                                    ("order.cancelled", "Order cancelled"),
                                    ("order.refunded", "Order refunded"),
                                    ("inventory.updated", "Available stock"),
                                    ("shipment.shipped", "Shipment shipped (webhook)"),
                                    (
                                        "shipment.tracking_updated",
                                        "Tracking news (webhook)",
                                    ),
                                    (
                                        "shipment.delivered",
                                        "Shipment delivered (webhook)",
                                    ),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("dedupe_key", models.CharField(max_length=100)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        ("message_id", models.CharField(blank=True, max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
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
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("attempts_left", models.PositiveSmallIntegerField(default=0)),
                        (
                            "next_attempt_at",
                            models.DateTimeField(blank=True, db_index=True, null=True),
                        ),
                        ("last_error", models.CharField(blank=True, max_length=500)),
                        (
                            "response_code",
                            models.PositiveSmallIntegerField(blank=True, null=True),
                        ),
                        ("remote_id", models.CharField(blank=True, max_length=200)),
                        (
                            "sequence",
                            models.PositiveBigIntegerField(blank=True, null=True),
                        ),
                        ("sent_quantity", models.IntegerField(blank=True, null=True)),
                        (
                            "created_at",
                            models.DateTimeField(auto_now_add=True, db_index=True),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="outbound_messages",
                                to="orders.order",
                            ),
                        ),
                        (
                            "product",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="inventory.product",
                            ),
                        ),
                        (
                            "shipment",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="outbound_messages",
                                to="fulfillment.shipment",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "fulfillment_outboundmessage",
                        "ordering": ["-created_at", "-pk"],
                        "permissions": [
                            (
                                "replay_outboundmessage",
                                "Can replay messages to the sales channels",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="OutboundAttempt",
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
                        ("number", models.PositiveIntegerField()),
                        ("started_at", models.DateTimeField()),
                        ("duration_ms", models.PositiveIntegerField(default=0)),
                        ("request", models.CharField(blank=True, max_length=300)),
                        (
                            "response_code",
                            models.PositiveSmallIntegerField(blank=True, null=True),
                        ),
                        ("response", models.TextField(blank=True)),
                        ("error", models.CharField(blank=True, max_length=500)),
                        ("succeeded", models.BooleanField(default=False)),
                        (
                            "message",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="attempt_log",
                                to="connections.outboundmessage",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "fulfillment_outboundattempt",
                        "ordering": ["-started_at", "-pk"],
                    },
                ),
                migrations.CreateModel(
                    name="ChannelListing",
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
                            "shopify_inventory_item_id",
                            models.CharField(
                                blank=True,
                                help_text="gid://shopify/InventoryItem/… (or its number).",
                                max_length=100,
                                verbose_name="Shopify inventory item",
                            ),
                        ),
                        (
                            "shopify_location_id",
                            models.CharField(
                                blank=True,
                                help_text="gid://shopify/Location/… (or its number) where the stock is set.",
                                max_length=100,
                                verbose_name="Shopify location",
                            ),
                        ),
                        (
                            "woocommerce_product_id",
                            models.PositiveBigIntegerField(
                                blank=True,
                                null=True,
                                verbose_name="WooCommerce product id",
                            ),
                        ),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="listings",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "product",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="listings",
                                to="inventory.product",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "fulfillment_channellisting",
                        "ordering": ["channel", "product"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("channel", "product"),
                                name="channel_listing_once",
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="outboundmessage",
                    index=models.Index(
                        fields=["status", "next_attempt_at"], name="outbound_due"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="outboundmessage",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(
                            ("kind", "inventory.updated"), _negated=True
                        ),
                        fields=("channel", "kind", "dedupe_key"),
                        name="outbound_message_once",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="outboundmessage",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(
                            ("kind", "inventory.updated"),
                            ("status__in", ["pending", "sending"]),
                        ),
                        fields=("channel", "kind", "dedupe_key", "status"),
                        name="outbound_stock_one_waiting",
                    ),
                ),
            ],
        ),
        migrations.RunPython(content_types_move, content_types_back),
    ]
