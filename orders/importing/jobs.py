"""Admin imports as jobs: preview first, then run in the request or in the
background with progress the browser can poll."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from orders.importing.reader import ImportFileError
from orders.importing.services import imported_orders_settle, orders_import
from orders.models import Channel, ImportJob

Status = ImportJob.Status


def import_job_preview(
    *,
    data: bytes,
    filename: str,
    channel: Channel | None,
    format_code: str,
    partial: bool,
    actor: AbstractBaseUser,
) -> ImportJob:
    """Check a file without writing orders and keep it for the confirm step.

    Raises ImportFileError (nothing is kept) when the file cannot be read.
    """
    result = orders_import(
        data=data,
        actor=actor,
        channel=channel,
        format_code=format_code,
        filename=filename,
        partial=partial,
        dry_run=True,
    )
    return ImportJob.objects.create(
        filename=filename,
        source=data,
        channel=channel,
        format=result.format,
        partial=partial,
        total=result.lines,
        preview=result.as_dict(),
        created_by=actor,
    )


def import_job_runs_in_background(job: ImportJob) -> bool:
    return job.preview.get("lines", 0) > settings.OMS_IMPORT_BACKGROUND_LINES


def import_job_run(*, job_id: int) -> ImportJob:
    """Import a previewed file for real, recording progress and the result."""
    job = ImportJob.objects.select_related("channel", "created_by").get(pk=job_id)
    if job.status not in (Status.PREVIEWED, Status.QUEUED):
        return job
    ImportJob.objects.filter(pk=job.pk).update(status=Status.RUNNING)

    def progress(stage: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            stage=stage, processed=done, total=total
        )

    try:
        result = orders_import(
            data=bytes(job.source),
            actor=job.created_by,
            channel=job.channel,
            format_code=job.format,
            filename=job.filename,
            partial=job.partial,
            progress=progress,
        )
    except ImportFileError as error:
        ImportJob.objects.filter(pk=job.pk).update(
            status=Status.FAILED,
            result={"summary": str(error), "problems": [str(error)]},
            finished_at=timezone.now(),
        )
        return ImportJob.objects.get(pk=job.pk)
    outcome = result.as_dict()
    if result.written:
        outcome["allocated"] = imported_orders_settle(
            order_ids=result.order_ids, actor=job.created_by
        )
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.DONE if result.written or not result.problems else Status.FAILED,
        result=outcome,
        finished_at=timezone.now(),
    )
    return ImportJob.objects.get(pk=job.pk)
