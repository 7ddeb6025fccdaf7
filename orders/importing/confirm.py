"""`import_confirm`: import a file for real and settle the new orders.

The one way an import is confirmed, whoever asks: the admin (through its
import job, `orders.importing.jobs`), the `import_orders` command and the
background job all call it::

    confirmed = import_confirm(data=..., actor=user, channel=None,
                               format_code="auto", filename="orders.csv",
                               partial=False)
    confirmed.result.summary(), confirmed.allocated, confirmed.settle_queued

Settling (allocating the new orders, queueing their "order received"
e-mails) runs in this process for a small import and as a task for a big
one; a caller already in the background says `settle_in_background=False`.
"""

from dataclasses import dataclass

from django.conf import settings
from django_tasks import task

from core.users import Actor
from orders.emails import customer_emails_queue_many
from orders.importing.services import ImportResult, Progress, orders_import
from orders.models import Channel, CustomerEmail, OrderStatus
from orders.services.allocation import orders_allocate_many


@dataclass(frozen=True)
class ConfirmedImport:
    result: ImportResult
    # How many new orders are fully allocated; None while the settling is queued.
    allocated: int | None = None
    settle_queued: bool = False


def imported_orders_settle(*, order_ids: list[int], actor: Actor) -> int:
    """After an import commits: allocate the new orders set-based (priority
    first, then oldest) and queue their "order received" e-mails in bulk.
    Returns how many are allocated.

    Safe to run again (a retried task): orders already allocated are left
    alone and an e-mail already queued is not queued twice.
    """
    counts = orders_allocate_many(
        order_ids=order_ids,
        actor=actor,
        with_locked=lambda locked: customer_emails_queue_many(
            order_ids=locked, kind=CustomerEmail.Kind.RECEIVED
        ),
    )
    return counts.get(OrderStatus.ALLOCATED, 0)


@task()
def imported_orders_settle_task(order_ids: list[int]) -> int:
    """Allocate freshly imported orders and mail their customers, in the background."""
    return imported_orders_settle(order_ids=order_ids, actor=None)


def import_confirm(
    *,
    data: bytes,
    actor: Actor,
    channel: Channel | None,
    format_code: str,
    filename: str,
    partial: bool,
    progress: Progress | None = None,
    settle_in_background: bool | None = None,
) -> ConfirmedImport:
    """Import a file for real, then allocate the new orders and queue their mails.

    With `settle_in_background=None` the settling is queued as a task when
    more orders than `OMS_IMPORT_BACKGROUND_LINES` were written. Raises
    ImportFileError (nothing written) when the file cannot be imported.
    """
    result = orders_import(
        data=data,
        actor=actor,
        channel=channel,
        format_code=format_code,
        filename=filename,
        partial=partial,
        progress=progress,
    )
    if not result.written:
        return ConfirmedImport(result=result)
    if settle_in_background is None:
        settle_in_background = (
            len(result.order_ids) > settings.OMS_IMPORT_BACKGROUND_LINES
        )
    if settle_in_background:
        imported_orders_settle_task.enqueue(order_ids=result.order_ids)
        return ConfirmedImport(result=result, settle_queued=True)
    allocated = imported_orders_settle(order_ids=result.order_ids, actor=actor)
    return ConfirmedImport(result=result, allocated=allocated)
