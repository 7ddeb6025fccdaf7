"""The hand-written worker's heartbeat and schedule tables are gone: Procrastinate
keeps worker heartbeats (procrastinate_workers) and runs periodic tasks once per
slot (procrastinate_periodic_defers)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0004_number_counters_to_sequences")]

    operations = [
        migrations.DeleteModel(name="WorkerHeartbeat"),
        migrations.DeleteModel(name="ScheduleSlot"),
    ]
