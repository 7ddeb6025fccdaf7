from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0005_remove_worker_heartbeat_schedule_slot")]

    operations = [
        migrations.CreateModel(
            name="RateWindow",
            fields=[
                (
                    "key",
                    models.CharField(max_length=250, primary_key=True, serialize=False),
                ),
                ("expires", models.DateTimeField()),
                ("count", models.PositiveIntegerField()),
            ],
        ),
        # Counts need no crash safety: no WAL for the busiest row of an API.
        migrations.RunSQL(
            "ALTER TABLE core_ratewindow SET UNLOGGED",
            "ALTER TABLE core_ratewindow SET LOGGED",
        ),
    ]
