"""Storing a message as it came, before it is answered.

A message is stored (one INSERT … ON CONFLICT DO NOTHING) before it is
answered, so nothing acknowledged is lost; a second delivery with the same
delivery id is recognised by a unique constraint and changes nothing.
"""

from django.db import IntegrityError
from django.utils import timezone

from connections.inbox.draining import inbound_wake
from connections.inbox.messages import text_clean
from connections.inbox.processing import inbound_process_task
from connections.inbox.waking import queue_in_database
from connections.models import InboundMessage
from connections.sql import inbound_insert_unless_seen
from orders.models import Channel


def inbound_store(
    *,
    channel: Channel,
    source: str,
    topic: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    delivery_id: str = "",
    idempotency_key: str = "",
    body_hash: str = "",
    external_id: str = "",
    process: bool = True,
    unreadable: str = "",
) -> tuple[InboundMessage, bool]:
    """Store a message as it came; return it and whether it is new.

    One statement: an INSERT that does nothing when the delivery id or
    idempotency key was seen before (then the earlier message and False come
    back). With `process`, the worker is woken to drain the inbox (one waiting
    drain at a time across every process, at most one attempt per process
    every `OMS_INBOX_WAKE_SECONDS`); in immediate mode the message is processed at once.

    `unreadable` says why the body cannot be read (not JSON, nested too
    deeply, NUL in a string, not an object): the message is stored as failed
    with that reason and not processed, so a person sees it and the shop's
    retries of the delivery are duplicates.
    """
    message = InboundMessage(
        channel=channel,
        source=source,
        topic=text_clean(topic)[:64],
        delivery_id=text_clean(delivery_id)[:128],
        idempotency_key=text_clean(idempotency_key)[:255],
        body_hash=body_hash,
        external_id=text_clean(external_id)[:64],
        body=text_clean(body.decode("utf-8", "replace")),
        headers={k: text_clean(v) for k, v in (headers or {}).items()},
    )
    if unreadable:
        message.status = InboundMessage.Status.FAILED
        message.error = text_clean(unreadable)
        message.processed_at = timezone.now()
    stored, new = inbound_insert_or_earlier(message)
    if new and process and not unreadable:
        inbound_process_soon(stored)
    return stored, new


def inbound_insert_or_earlier(message: InboundMessage) -> tuple[InboundMessage, bool]:
    """Store `message` (True), or give the earlier one holding its delivery
    id or key (False)."""
    for _ in range(3):
        message.pk = inbound_insert_unless_seen(message)
        if message.pk is not None:
            return message, True
        earlier = inbound_earlier(message)
        if earlier is not None:
            return earlier, False
        # The earlier message was rolled back meanwhile: store this one.
    raise IntegrityError(f"Inbound message {message.delivery_id!r} not stored.")


def inbound_process_soon(message: InboundMessage) -> None:
    """Have the worker's drain take a stored message up (the immediate
    backend: processed here and now)."""
    if queue_in_database():
        inbound_wake()
    else:
        inbound_process_task.defer(message_id=message.pk)


def inbound_earlier(message: InboundMessage) -> InboundMessage | None:
    """The stored message that holds this one's Idempotency-Key or delivery
    id (an API order's is its external id), or None."""
    found = InboundMessage.objects.filter(channel=message.channel)
    if message.idempotency_key:
        earlier = found.filter(idempotency_key=message.idempotency_key).first()
        if earlier is not None:
            return earlier
    if message.delivery_id:
        return found.filter(
            source=message.source, delivery_id=message.delivery_id
        ).first()
    return None
