"""The outbox's models now belong to the connections app
(connections.0002_outbox): removed from this app's state only, the tables
stay with their rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0015_shipment_tally_triggers"),
        ("connections", "0002_outbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="OutboundAttempt"),
                migrations.DeleteModel(name="OutboundMessage"),
                migrations.DeleteModel(name="ChannelListing"),
            ],
        ),
    ]
