"""Fulfillment's part of the retention prune (core.retention): finished
print batches and their PDFs, scan form PDFs, voided labels' files.

Labels in use are the returns app's to prune (returns.services.retention):
only it knows whether a return still needs them.
"""

from datetime import datetime

from core.retention import files_prune, retention_cutoff, rows_prune
from fulfillment.models import PrintJob, ScanForm, ShipmentPostage


def print_jobs_prune(*, now: datetime) -> int:
    """Delete print batches finished before OMS_RETENTION_JOB_DAYS with their
    PDFs; the document trail keeps who printed what."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_JOB_DAYS")
    if cutoff is None:
        return 0
    return rows_prune(
        PrintJob.objects.filter(
            status__in=[PrintJob.Status.DONE, PrintJob.Status.FAILED],
            finished_at__lt=cutoff,
        ),
        file_fields=("pdf",),
    )


def scan_form_files_prune(*, now: datetime) -> int:
    """Drop the PDFs of scan forms of days before OMS_RETENTION_FILE_DAYS (the
    carrier scanned them long ago); the form's record stays."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_FILE_DAYS")
    if cutoff is None:
        return 0
    return files_prune(
        ScanForm.objects.filter(created_at__lt=cutoff), field="form_file"
    )


def voided_labels_prune(*, now: datetime) -> int:
    """Drop the files of labels voided before OMS_RETENTION_FILE_DAYS: a
    voided label ships nothing and answers no claim."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_FILE_DAYS")
    if cutoff is None:
        return 0
    return files_prune(
        ShipmentPostage.objects.filter(
            status=ShipmentPostage.Status.VOIDED, voided_at__lt=cutoff
        ),
        field="label_file",
    )
