# The tally triggers are declared on Order and Shipment (django-pgtrigger) and
# installed by the orders and fulfillment migrations; drop the hand-made ones
# that 0003 and 0004 installed on databases migrated before.

from django.db import migrations

OLD_TRIGGERS = [
    ("order_tally", "orders_order"),
    ("shipment_tally", "fulfillment_shipment"),
]

DROP = [
    statement
    for name, table in OLD_TRIGGERS
    for statement in (
        *(
            f"DROP TRIGGER IF EXISTS oms_{name}_{event} ON {table}"
            for event in ("insert", "update", "delete")
        ),
        f"DROP FUNCTION IF EXISTS oms_{name}()",
    )
]


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0004_shipment_tallies"),
    ]

    operations = [
        migrations.RunSQL(DROP, reverse_sql=migrations.RunSQL.noop),
    ]
