"""The orders app's part of the retention prune (core.retention): finished
import jobs with their files (customer e-mails are outbox messages:
`connections.services.retention.outbox_prune`)."""

from datetime import datetime

from core.retention import retention_cutoff, rows_prune
from orders.models import ImportJob


def import_jobs_prune(*, now: datetime) -> int:
    """Delete finished import jobs (done or failed) and their files past
    OMS_RETENTION_JOB_DAYS; the orders they wrote stay."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_JOB_DAYS")
    if cutoff is None:
        return 0
    finished = ImportJob.objects.filter(
        status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED],
        finished_at__lt=cutoff,
    )
    # A preview never confirmed is finished too, once it is that old.
    forgotten = ImportJob.objects.filter(
        status=ImportJob.Status.PREVIEWED, created_at__lt=cutoff
    )
    return rows_prune(finished, file_fields=("source",)) + rows_prune(
        forgotten, file_fields=("source",)
    )
