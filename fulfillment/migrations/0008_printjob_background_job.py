"""Import and print jobs record who runs them and their heartbeat, so a job
whose worker died is failed visibly (core.jobs.jobs_reap) and can be retried."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0007_webhook_retry_schedule")]

    operations = [
        migrations.AddField(
            model_name="printjob",
            name="worker_id",
            field=models.CharField(
                blank=True,
                help_text="The background worker running it.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="printjob",
            name="task_id",
            field=models.CharField(
                blank=True, help_text="The queue's task running it.", max_length=64
            ),
        ),
        migrations.AddField(
            model_name="printjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="printjob",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="printjob",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="Last sign of life while it ran.", null=True
            ),
        ),
    ]
