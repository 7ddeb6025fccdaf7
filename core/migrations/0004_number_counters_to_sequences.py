# The counter table of document numbers goes: each app's migration has moved
# its numbers to a PostgreSQL sequence (`number_<name>`, core.sequences),
# started after the counter and the highest number in use, and names this
# migration in its `run_before`, so the table is read before it is dropped.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_worker_heartbeat_schedule"),
    ]

    operations = [
        migrations.DeleteModel(name="Sequence"),
    ]
