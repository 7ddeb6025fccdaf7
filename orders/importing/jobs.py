"""Admin imports as jobs: preview first, then confirm, which imports in the
request or queues the job for the background; progress the browser can poll.

`import_job_preview` keeps the file; `import_job_confirm` runs or queues it;
`import_job_run` (through `core.jobs.job_run`) does the import with
`import_confirm`, the same service the command uses.
"""

from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.files import content_name, file_open, file_store
from core.jobs import job_enqueue, job_retry, job_run
from core.tasks import app
from core.users import Actor
from orders.importing.confirm import import_confirm, imported_orders_settle
from orders.importing.reader import ImportFileError
from orders.importing.services import orders_import
from orders.models import Channel, ImportJob, Order, OrderStatus

Status = ImportJob.Status
# The kinds of file kept under their own suffix; anything else as ".bin".
SOURCE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}


def _source_store(*, data: bytes, filename: str) -> str:
    """Keep an uploaded file in the storage under a name made of its hash:
    the name the user gave it may say who it is about."""
    suffix = PurePath(filename).suffix.lower()
    suffix = suffix if suffix in SOURCE_SUFFIXES else ".bin"
    return file_store(
        model=ImportJob,
        field="source",
        filename=content_name(data, suffix),
        content=data,
    )


def import_job_source(job: ImportJob):
    """Open the file a job imports (a seekable binary file, for a `with`
    block: the import reads it a block at a time).

    Raises ImportFileError when the retention prune has removed it."""
    if not job.source:
        raise ImportFileError(
            _(
                "The file of import %(job)s is no longer kept (files are removed "
                "after the retention period); upload it again."
            )
            % {"job": job.pk}
        )
    return file_open(model=ImportJob, field="source", name=job.source.name)


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
        source=_source_store(data=data, filename=filename),
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


def _stage(stage: str, done: int, total: int) -> str:
    # "written" is reported inside the write's transaction (committed with the
    # orders, or not at all): from then on the orders exist and what is left
    # is settling them.
    if stage == "written" or (stage == "writing" and total and done >= total):
        return "settling"
    return stage


def _orders_left_unsettled(job: ImportJob, external_ids: list[str]) -> list[int]:
    """The orders an earlier, lost attempt of this job wrote but never settled."""
    if job.attempts <= 1:
        return []
    # Rows may name their own channels; settling a pending order of another
    # import is harmless (allocation and the e-mail are idempotent).
    pending = Order.objects.filter(status=OrderStatus.PENDING)
    found: list[int] = []
    for start in range(0, len(external_ids), 900):
        chunk = external_ids[start : start + 900]
        found.extend(pending.filter(external_id__in=chunk).values_list("pk", flat=True))
    return found


def import_job_run(*, job_id: int) -> ImportJob:
    """Import a previewed file for real, recording progress and the result.

    A retry after an attempt that was lost once its orders were written finds
    them "already imported" (never written twice) and settles them instead.
    """

    def body(job: ImportJob, progress) -> dict[str, Any]:
        with import_job_source(job) as source:
            return _import_run_body(job, progress, source)

    def _import_run_body(job: ImportJob, progress, source) -> dict[str, Any]:
        confirmed = import_confirm(
            data=source,
            actor=job.created_by,
            channel=job.channel,
            format_code=job.format,
            filename=job.filename,
            partial=job.partial,
            progress=lambda stage, done, total: progress(
                stage=_stage(stage, done, total), processed=done, total=total
            ),
        )
        result = confirmed.result
        outcome = result.as_dict()
        if result.written:
            outcome["allocated"] = confirmed.allocated
        elif unsettled := _orders_left_unsettled(job, result.skipped_existing):
            progress(stage="settling")
            outcome["allocated"] = imported_orders_settle(
                order_ids=unsettled, actor=job.created_by
            )
            outcome["summary"] = (
                f"{result.summary()}; settled {len(unsettled)} orders the lost "
                "attempt had written"
            )
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


@app.task()
def import_job_run_task(job_id: int) -> str:
    """Run a confirmed admin import in the background."""
    return import_job_run(job_id=job_id).status


def import_job_confirm(*, job: ImportJob) -> ImportJob:
    """Import a previewed file: now if it is small, in the background if not."""
    if job.status != Status.PREVIEWED:
        return job
    if import_job_runs_in_background(job):
        ImportJob.objects.filter(pk=job.pk, status=Status.PREVIEWED).update(
            status=Status.QUEUED, queued_at=timezone.now()
        )
        job_enqueue(job, lambda: import_job_run_task.defer(job_id=job.pk))
        return job
    return import_job_run(job_id=job.pk)


def import_job_can_retry(job: ImportJob) -> bool:
    """A failed import can be retried unless the file itself was refused
    (then only a corrected file helps)."""
    return job.status == Status.FAILED and bool(job.error)


def import_job_retry(*, job: ImportJob) -> bool:
    """Queue a failed import again as a new task; say if it was queued."""
    if not import_job_can_retry(job):
        return False
    return job_retry(
        job,
        enqueue=lambda: import_job_run_task.defer(job_id=job.pk),
        stage="",
        processed=0,
        result={},
    )
