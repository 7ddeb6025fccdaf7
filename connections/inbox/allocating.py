"""Reserving stock for the orders the API took in, after they are written."""

from datetime import datetime

from django.conf import settings

from connections.inbox.waking import queue_in_database, wake_once
from connections.models import InboundMessage
from core.tasks import app
from orders.models import Order, OrderStatus
from orders.services.allocation import orders_allocate_many


def inbound_allocate_wake() -> None:
    """Have the worker reserve stock for the orders the API took in.

    With the database queue, as `inbound_wake`: one waiting task (its
    queueing lock), started `OMS_INBOX_WAKE_SECONDS` after it was queued, which
    allocates every such order waiting when it starts; in immediate mode, at
    once.
    """
    if not queue_in_database():
        inbound_allocate_task.defer()
        return
    wake_once(inbound_allocate_task)


@app.task(queue="inbox", queueing_lock="inbox-allocate")
def inbound_allocate_task() -> dict[str, int]:
    """Allocate the API's pending orders (queued by `inbound_allocate_wake`)."""
    return inbound_allocate()


def inbound_allocate(*, placed_before: datetime | None = None) -> dict[str, int]:
    """Reserve stock for the orders the API took in that are still pending,
    oldest first, set-based in batches of `OMS_INBOX_BATCH` (one transaction
    each: `orders_allocate_many` locks the orders, then their stock levels
    once). An order held or cancelled meanwhile is left alone; several
    workers may run this side by side (each order is allocated once, under
    its lock). Return how many orders ended in each status."""
    waiting = Order.objects.filter(
        status=OrderStatus.PENDING,
        inbound_messages__source=InboundMessage.Source.API,
    )
    if placed_before is not None:
        waiting = waiting.filter(created_at__lt=placed_before)
    counts: dict[str, int] = {}
    last = 0
    while True:
        order_ids = list(
            waiting.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)
            .distinct()[: settings.OMS_INBOX_BATCH]
        )
        if not order_ids:
            return counts
        last = order_ids[-1]
        done = orders_allocate_many(
            order_ids=order_ids, actor=None, statuses=(OrderStatus.PENDING,)
        )
        for status, count in done.items():
            counts[status] = counts.get(status, 0) + count
