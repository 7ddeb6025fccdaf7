"""`import_confirm`: import a file for real and settle the new orders.

The one way an import is confirmed, whoever asks: the admin (through its
import job, `orders.importing.jobs`), the `import_orders` command and the
background job all call it::

    confirmed = import_confirm(data=..., actor=user, channel=None,
                               format_code="auto", filename="orders.csv",
                               partial=False)
    confirmed.result.summary(), confirmed.allocated

Settling (allocating the new orders, queueing their "order received"
e-mails) happens inside the import's own transaction, whatever the size
(`orders_import(settle=True)`): the orders are committed allocated,
backordered or held, or not at all, so no order is left waiting for a
second step. On PostgreSQL each order is written once, with its final
status (see `orders.importing.write.orders_write` for the lock order).
`imported_orders_settle` stays for orders written but never settled (an
import of an earlier version, or queued as a task by one).
"""

from dataclasses import dataclass

from core.tasks import app
from core.users import Actor
from orders.emails import customer_emails_queue_many
from orders.importing.result import ImportResult, Progress
from orders.importing.services import orders_import
from orders.models import Channel, EmailKind, OrderStatus
from orders.services.allocation import orders_allocate_many


@dataclass(frozen=True)
class ConfirmedImport:
    result: ImportResult
    # How many new orders are fully allocated (None when none were written).
    allocated: int | None = None


def imported_orders_settle(*, order_ids: list[int], actor: Actor) -> int:
    """Allocate imported orders that were written but not settled (a lost
    attempt of an older version, or its queued task) set-based (priority
    first, then oldest) and queue their "order received" e-mails in bulk.
    Returns how many are allocated.

    Safe to run again (a retried task): orders already allocated are left
    alone and an e-mail already queued is not queued twice.
    """
    counts = orders_allocate_many(
        order_ids=order_ids,
        actor=actor,
        with_locked=lambda locked: customer_emails_queue_many(
            order_ids=locked, kind=EmailKind.RECEIVED
        ),
    )
    return counts.get(OrderStatus.ALLOCATED, 0)


@app.task()
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
) -> ConfirmedImport:
    """Import a file for real, allocating the new orders and queueing their
    mails in the same transaction. Raises ImportFileError (nothing written)
    when the file cannot be imported.

    Whether a big file runs in the background is the caller's choice (the
    admin queues its job above `OMS_IMPORT_BACKGROUND_LINES`); once running,
    the import settles its orders itself.
    """
    result = orders_import(
        data=data,
        actor=actor,
        channel=channel,
        format_code=format_code,
        filename=filename,
        partial=partial,
        progress=progress,
        settle=True,
    )
    if not result.written:
        return ConfirmedImport(result=result)
    return ConfirmedImport(result=result, allocated=result.allocated)
