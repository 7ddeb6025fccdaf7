"""The document trail and background print batches.

Every print or download is written to the print log and the timeline of the
orders concerned; large batches are rendered by a worker (`print_job_render`)
through the one job runner, `core.jobs.job_run`.
"""

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.files import file_delete, file_store
from core.jobs import job_enqueue, job_retry, job_run
from core.tasks import app
from core.users import Actor, acting_user
from fulfillment import documents
from fulfillment.exceptions import FulfillmentError
from fulfillment.locks import lock_pick_lists
from fulfillment.models import (
    DocumentKind,
    DocumentPrint,
    PrintJob,
    Shipment,
    ShipmentStatus,
)
from orders import events as order_events
from orders.models import OrderEvent


def _timeline_message(kind: str, numbers: Sequence[str], background: bool) -> str:
    label = DocumentKind(kind).label
    how = " (background batch)" if background else ""
    return f"{label} {', '.join(numbers)} printed{how}."


@transaction.atomic
def document_print_record(
    *,
    kind: str,
    actor: Actor,
    shipment_ids: Sequence[int] = (),
    pick_list_ids: Sequence[int] = (),
    pages: int = 0,
    background: bool = False,
) -> DocumentPrint:
    """Write the trail of one print or download: the print log and a timeline
    entry on every order concerned. Printing a pick list starts it."""
    if kind == DocumentKind.PICK_LIST:
        pick_lists = lock_pick_lists(pick_list_ids)
        references = [p.number for p in pick_lists]
        shipments = list(
            Shipment.objects.filter(pick_list__in=pick_lists)
            .exclude(status=ShipmentStatus.CANCELLED)
            .values_list("order_id", "pick_list__number")
        )
        for pick_list in pick_lists:
            if can_proceed(pick_list.start):
                pick_list.start()
                pick_list.save(update_fields=["status", "updated_at"])
    else:
        shipments = list(
            Shipment.objects.filter(pk__in=list(shipment_ids))
            .order_by("number")
            .values_list("order_id", "number")
        )
        references = [number for _, number in shipments]
    record = DocumentPrint.objects.create(
        kind=kind,
        user=acting_user(actor),
        references=references,
        pages=pages,
        background=background,
    )
    if kind == DocumentKind.PICK_LIST:
        record.pick_lists.add(*pick_list_ids)
    else:
        record.shipments.add(*shipment_ids)
    numbers_of: dict[int, list[str]] = defaultdict(list)
    for order_id, number in shipments:
        if number not in numbers_of[order_id]:
            numbers_of[order_id].append(number)
    OrderEvent.objects.bulk_create(
        order_events.order_event_document(
            order=order_id,
            actor=actor,
            message=_timeline_message(kind, numbers, background),
            data={"document": kind, "print": record.pk, "numbers": numbers},
        )
        for order_id, numbers in numbers_of.items()
    )
    return record


@transaction.atomic
def print_job_create(*, kind: str, object_ids: Sequence[int], actor: Actor) -> PrintJob:
    """Queue a large batch of documents; the worker renders it in the background."""
    if not object_ids:
        raise FulfillmentError("Select at least one shipment or pick list to print.")
    job = PrintJob.objects.create(
        kind=kind,
        object_ids=sorted(set(object_ids)),
        total=len(set(object_ids)),
        created_by=acting_user(actor),
        queued_at=timezone.now(),
    )
    job_enqueue(job, lambda: print_job_render.defer(job_id=job.pk))
    return job


def print_job_download(*, job: PrintJob, actor: Actor) -> DocumentPrint:
    """Record that someone downloaded a finished batch."""
    if job.status != PrintJob.Status.DONE:
        raise FulfillmentError(
            f"Batch {job.pk} is {job.get_status_display().lower()}; download it "
            "when it is ready."
        )
    pick_lists = job.kind == DocumentKind.PICK_LIST
    return document_print_record(
        kind=job.kind,
        actor=actor,
        shipment_ids=[] if pick_lists else job.object_ids,
        pick_list_ids=job.object_ids if pick_lists else [],
        pages=job.pages,
        background=True,
    )


def _print_job_body(job: PrintJob, progress) -> dict:
    rendered = documents.render(
        job.kind,
        job.object_ids,
        on_progress=lambda done, total: progress(done=done, total=total),
    )
    # The batch's file is stored before the run records its end; a run whose
    # claim was lost leaves an unreferenced file the prune removes.
    name = file_store(
        model=PrintJob,
        field="pdf",
        filename=f"print-batch-{job.pk}-{job.attempts}.pdf",
        content=rendered.pdf,
    )
    return {
        "pdf": name,
        "pages": rendered.pages,
        "done": len(rendered.references),
        "total": len(rendered.references),
    }


def print_job_run(*, job_id: int) -> PrintJob:
    """Render a queued batch in chunks over all cores, keeping its progress.

    Runs outside a transaction on purpose: each progress step is committed
    at once so the progress page can show it.
    """
    return job_run(
        PrintJob.objects.all(),
        job_id=job_id,
        body=_print_job_body,
        # A failed batch runs again only through `print_job_retry`: a task the
        # reaper put back in the queue finds it failed and leaves it alone.
        runnable=(PrintJob.Status.QUEUED,),
        on_start={"started_at": timezone.now(), "done": 0},
    )


def print_job_retry(*, job: PrintJob) -> bool:
    """Queue a failed batch again as a new task; say if it was queued.

    The batch is rendered whole again into the job's one PDF; nothing is
    printed until someone downloads it, so a retry prints one document.
    """
    earlier = PrintJob.objects.filter(pk=job.pk).values_list("pdf", flat=True).first()
    queued = job_retry(
        job,
        enqueue=lambda: print_job_render.defer(job_id=job.pk),
        done=0,
        pages=0,
        pdf=None,
        started_at=None,
    )
    if queued and earlier:
        file_delete(model=PrintJob, field="pdf", names=[earlier])
    return queued


@app.task()
def print_job_render(job_id: int) -> int:
    """Render a large print batch; return its page count."""
    return print_job_run(job_id=job_id).pages
