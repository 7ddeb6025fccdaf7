"""Inbound messages and channel API keys now belong to the connections app
(connections.0001_inbox): removed from this app's state only, the tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0023_order_tally_triggers"),
        ("connections", "0001_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="InboundMessage"),
                migrations.DeleteModel(name="ChannelApiKey"),
            ],
        ),
    ]
