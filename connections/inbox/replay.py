"""Replaying a message by hand, and the sweep that takes up what was lost."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections.inbox.allocating import inbound_allocate
from connections.inbox.draining import inbound_drain
from connections.inbox.processing import inbound_process_task
from connections.inbox.waking import queue_in_database
from connections.locks import lock_inbound_message
from connections.models import InboundMessage
from core.tasks import app
from core.users import Actor

Status = InboundMessage.Status


def inbound_replay(*, message: InboundMessage, actor: Actor) -> InboundMessage:
    """Process a message again (after fixing what made it fail)."""
    with transaction.atomic():
        message = lock_inbound_message(message.pk)
        if message.status == Status.RECEIVED:
            return message  # already waiting for the worker
        message.status = Status.RECEIVED
        message.error = ""
        message.save(update_fields=["status", "error"])
        if queue_in_database():
            inbound_process_task.defer(message_id=message.pk)
    if not queue_in_database():
        inbound_process_task.defer(message_id=message.pk)
    message.refresh_from_db()
    return message


@app.periodic(cron="* * * * *", periodic_id="inbox-sweep")
@app.task(queue="inbox", queueing_lock="inbox-sweep")
def inbound_sweep(timestamp: int = 0) -> int:
    """Process the messages still waiting long after they came (the drain that
    should have taken them was lost), each applied once under its lock, and
    allocate the API's orders still pending as long (their task was lost)."""
    before = timezone.now() - timedelta(seconds=settings.OMS_INBOX_SWEEP_AFTER_SECONDS)
    done = inbound_drain(received_before=before)
    inbound_allocate(placed_before=before)
    return done
