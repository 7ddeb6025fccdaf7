"""`Order.tags` gets an explicit through model on its existing table
(`orders_order_tags`, same columns and unique constraint), so that its
redundant index on `order_id` alone can go: the unique (order_id,
ordertag_id) index serves lookups by order."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0020_order_postage_preference"),
    ]

    operations = [
        # The table exists: only Django's view of it changes here.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OrderTagging",
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
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="orders.order",
                            ),
                        ),
                        (
                            "ordertag",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="orders.ordertag",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "order tagging",
                        "db_table": "orders_order_tags",
                        "unique_together": {("order", "ordertag")},
                    },
                ),
                migrations.AlterField(
                    model_name="order",
                    name="tags",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="orders",
                        through="orders.OrderTagging",
                        to="orders.ordertag",
                    ),
                ),
            ],
            database_operations=[],
        ),
        # Drops the index on order_id alone (found by introspection).
        migrations.AlterField(
            model_name="ordertagging",
            name="order",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="orders.order",
            ),
        ),
    ]
