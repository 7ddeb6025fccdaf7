"""Phone numbers found by their digits alone: an expression index each on
the customer's phone and the order's ship-to phone (orders.selectors), and
the statistics for them (a new expression has none until analysed)."""

import core.lookups
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0011_history_triggers_without_shared_context"),
        ("orders", "0037_customer_request_replies"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                core.lookups.Digits("phone"), name="customer_phone_digits"
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                core.lookups.Digits("ship_phone"), name="order_ship_phone_digits"
            ),
        ),
        migrations.RunSQL(
            "ANALYZE orders_customer; ANALYZE orders_order;", migrations.RunSQL.noop
        ),
    ]
