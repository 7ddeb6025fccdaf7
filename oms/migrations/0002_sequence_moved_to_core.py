# Sequence lives in `core` now; its table stays (core's migrations take it).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("oms", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Sequence")],
            database_operations=[],
        ),
    ]
