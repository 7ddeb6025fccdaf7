"""Admin imports as jobs: preview first, then confirm, which imports in the
request or queues the job for the background; progress the browser can poll.

`import_job_preview` keeps the file; `import_job_confirm` runs or queues it;
`import_job_run` (through `core.jobs.job_run`) does the import with
`import_confirm`, the same service the command uses.
"""

from typing import Any

from django.conf import settings
from django_tasks import task

from core.jobs import job_run
from core.users import Actor
from orders.importing.confirm import import_confirm
from orders.importing.services import orders_import
from orders.models import Channel, ImportJob

Status = ImportJob.Status


def import_job_preview(
    *,
    data: bytes,
    filename: str,
    channel: Channel | None,
    format_code: str,
    partial: bool,
    actor: Actor,
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


def _import_job_failure(error: Exception) -> dict[str, Any]:
    return {"result": {"summary": str(error), "problems": [str(error)]}}


def import_job_run(*, job_id: int) -> ImportJob:
    """Import a previewed file for real, recording progress and the result."""

    def body(job: ImportJob, progress) -> dict[str, Any]:
        confirmed = import_confirm(
            data=bytes(job.source),
            actor=job.created_by,
            channel=job.channel,
            format_code=job.format,
            filename=job.filename,
            partial=job.partial,
            progress=lambda stage, done, total: progress(
                stage=stage, processed=done, total=total
            ),
            # The job is the background work: settle here, not in another task.
            settle_in_background=False,
        )
        result = confirmed.result
        outcome = result.as_dict()
        if result.written:
            outcome["allocated"] = confirmed.allocated
        return {
            "status": Status.DONE
            if result.written or not result.problems
            else Status.FAILED,
            "result": outcome,
        }

    return job_run(
        ImportJob.objects.select_related("channel", "created_by"),
        job_id=job_id,
        body=body,
        runnable=(Status.PREVIEWED, Status.QUEUED),
        on_failure=_import_job_failure,
    )


@task()
def import_job_run_task(job_id: int) -> str:
    """Run a confirmed admin import in the background."""
    return import_job_run(job_id=job_id).status


def import_job_confirm(*, job: ImportJob) -> ImportJob:
    """Import a previewed file: now if it is small, in the background if not."""
    if job.status != Status.PREVIEWED:
        return job
    if import_job_runs_in_background(job):
        ImportJob.objects.filter(pk=job.pk, status=Status.PREVIEWED).update(
            status=Status.QUEUED
        )
        import_job_run_task.enqueue(job_id=job.pk)
        return job
    return import_job_run(job_id=job.pk)
