"""Draining the inbox: waiting messages applied in batches, one transaction
per batch, the batch's new orders written at once."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db import transaction

from connections.inbox.applying import AFTER_BATCH, DEFERRED, Batch
from connections.inbox.processing import (
    early_messages_apply,
    inbound_apply_locked,
    inbound_process_locked,
    orders_arrived,
)
from connections.inbox.waking import queue_in_database, wake_once
from connections.locks import lock_inbound_waiting
from connections.models import InboundMessage
from connections.sql import inbound_outcomes_save
from core.faults import fault_pause
from core.tasks import app, defer_once
from orders.services.orders import NewOrder, orders_create_many

logger = logging.getLogger("oms.inbox")

Status = InboundMessage.Status


def inbound_wake() -> None:
    """Queue a drain of the inbox, unless one is waiting that has not started
    yet (its queueing lock: one waiting drain for every web process; and
    each process asks at most once every `OMS_INBOX_WAKE_SECONDS`).

    The drain is queued to start `OMS_INBOX_WAKE_SECONDS` from now, so it sees
    every message stored until then: one waiting job however many webhooks
    arrive, and none when nothing arrives.
    """
    wake_once(inbound_drain_task)


@app.task(queue="inbox", queueing_lock="inbox-drain")
def inbound_drain_task() -> int:
    """Drain the inbox (queued by `inbound_wake` as webhooks arrive)."""
    return inbound_drain()


def inbound_drain(
    *, received_before: datetime | None = None, budget_seconds: float | None = None
) -> int:
    """Process waiting messages, oldest first, in batches; return how many.

    Each batch is one transaction holding its messages locked (`SKIP LOCKED`:
    several workers drain side by side, never the same message). A worker
    killed mid-batch commits nothing: its messages are waiting again, and the
    next drain (or the sweep) takes them up. Stops after `budget_seconds` and
    queues its continuation, so one worker is not held for ever.
    """
    budget = budget_seconds or settings.OMS_INBOX_DRAIN_SECONDS
    started = time.monotonic()
    done = 0
    while True:
        count = inbound_drain_batch(received_before=received_before)
        done += count
        if count < settings.OMS_INBOX_BATCH:
            return done
        if time.monotonic() - started > budget:
            if queue_in_database():
                defer_once(inbound_drain_task)
            return done


@transaction.atomic
def inbound_drain_batch(*, received_before: datetime | None = None) -> int:
    """Apply one batch of waiting messages; return how many it held."""
    messages = lock_inbound_waiting(
        limit=settings.OMS_INBOX_BATCH, received_before=received_before
    )
    if not messages:
        return 0
    done: list[InboundMessage] = []
    later: list[InboundMessage] = []
    batch = Batch.of(messages)
    for message in messages:
        outcome = inbound_apply_locked(message=message, batch=batch)
        if outcome.status == AFTER_BATCH:
            later.append(message)
        elif outcome.status != DEFERRED:
            done.append(message)
    pending = list(batch.pending.values())
    written: list[InboundMessage] = []
    if pending:
        written, alone = orders_write(pending)
        done.extend(written)
        later[:0] = alone
    inbound_outcomes_save(done)
    early_messages_apply(orders_arrived(written))
    for message in later:
        inbound_process_locked(message)
    fault_pause("inbox.batch")  # the fault suite kills the worker here
    return len(messages)


def orders_write(
    pending: list[tuple[InboundMessage, NewOrder]],
) -> tuple[list[InboundMessage], list[InboundMessage]]:
    """Take the batch's new orders in at once: return the messages done, and
    those to apply one by one (all of them, when the batch could not be
    written whole: an order came by another path meanwhile, a value the
    database refuses)."""
    messages = [message for message, _ in pending]
    by_source: dict[str, list[NewOrder]] = {}
    for message, new in pending:
        by_source.setdefault(message.get_source_display(), []).append(new)
    try:
        with transaction.atomic():
            created = {}
            for source, news in by_source.items():
                for order in orders_create_many(orders=news, actor=None, source=source):
                    created[(order.channel_id, order.external_id)] = order
    except Exception:  # each alone, after, records its own error
        logger.info("Inbox batch of %d new orders taken one by one", len(pending))
        for message in messages:
            message.status, message.attempts = Status.RECEIVED, message.attempts - 1
        return [], messages
    for message, new in pending:
        order = created[(new.channel.pk, new.external_id)]
        message.status, message.order = Status.PROCESSED, order
        message.external_id = message.external_id or order.external_id
    return messages, []
