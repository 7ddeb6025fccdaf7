"""Applying one stored message once, under its lock, and recording the outcome."""

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from connections.inbox.applying import (
    AFTER_BATCH,
    Batch,
    Outcome,
    message_body,
    order_take,
)
from connections.inbox.messages import API_CREATE, api_order_taken
from connections.inbox.payload import PayloadError, payload_check
from connections.inbox.platforms import shopify_apply, woocommerce_apply
from connections.locks import lock_inbound_early, lock_inbound_message
from connections.models import InboundMessage
from connections.shopify.inbound import (
    REFUND_TOPIC,
    shopify_order_key,
)
from core.exceptions import DomainError
from core.tasks import app

logger = logging.getLogger("oms.inbox")

Status = InboundMessage.Status
Source = InboundMessage.Source


def message_apply(message: InboundMessage, batch: Batch | None) -> Outcome:
    """Do what the message asks, by its source and topic."""
    body = message_body(message)
    if message.source == Source.API:
        if message.topic != API_CREATE:
            return Outcome(Status.IGNORED, error=f"Unknown topic {message.topic!r}.")
        return order_take(message, payload_check(body, now=message.received_at), batch)
    if message.source == Source.SHOPIFY:
        return shopify_apply(message, body, batch)
    if message.source == Source.WOOCOMMERCE:
        return woocommerce_apply(message, body, batch)
    return Outcome(Status.IGNORED, error=f"Unknown source {message.source!r}.")


def inbound_apply_locked(
    *, message: InboundMessage, batch: Batch | None = None
) -> Outcome:
    """Apply a message the caller holds locked (or has just inserted, in its
    own transaction) and record the outcome on it.

    Within a drain's `batch`, a new order is left for the batch to write
    (`DEFERRED`), and a message that needs the batch written first comes back
    `AFTER_BATCH`, unchanged."""
    if message.status != Status.RECEIVED:
        # Done before (a task queued twice, or a replay that raced).
        return Outcome(message.status, message.order, message.error)
    # Draining, an order the API took in is only read until the batch writes
    # it: applied without a savepoint of its own (two round trips a message).
    # A database error there fails the batch, whose messages wait again.
    guarded = batch is None or not api_order_taken(message)
    try:
        if guarded:
            with transaction.atomic():
                outcome = message_apply(message, batch)
        else:
            outcome = message_apply(message, batch)
    except PayloadError as error:
        outcome = Outcome(Status.FAILED, error=str(error), problems=error.problems)
    except DomainError as error:
        outcome = Outcome(Status.FAILED, error=str(error))
    except Exception as error:  # recorded on the message, for a Replay
        if not guarded and isinstance(error, DatabaseError):
            raise
        logger.exception("Inbound message %s failed", message.pk)
        outcome = Outcome(
            Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
    if outcome.status == AFTER_BATCH:
        return outcome
    message.attempts += 1
    message.status = outcome.status
    message.error = outcome.error
    message.order = outcome.order
    message.processed_at = timezone.now()
    if outcome.order is not None and not message.external_id:
        message.external_id = outcome.order.external_id
    return outcome


def inbound_outcome_save(*, message: InboundMessage, **extra: Any) -> None:
    """Write what processing did to the message row (and `extra` fields)."""
    for name, value in extra.items():
        setattr(message, name, value)
    message.save(
        update_fields=[
            "status",
            "error",
            "order",
            "processed_at",
            "attempts",
            "external_id",
            *extra,
        ]
    )


def inbound_process_locked(message: InboundMessage) -> Outcome:
    """Apply a message the caller holds locked, alone, and save the outcome;
    then the messages that came before the order it took in."""
    if message.status != Status.RECEIVED:
        return Outcome(message.status, message.order, message.error)
    outcome = inbound_apply_locked(message=message)
    inbound_outcome_save(message=message)
    if outcome.status == Status.PROCESSED and outcome.order is not None:
        early_messages_apply(orders_arrived([message]))
    return outcome


def orders_arrived(messages: list[InboundMessage]) -> list[tuple[int, str]]:
    """The orders (channel id, external id) these processed shop messages are
    about: a shop may have sent messages about them before they came. The
    order API sends none (it has no updates). A Shopify order is also named
    by its numeric id (`shopify_order_key`): its refunds know it so."""
    keys = []
    for message in messages:
        if (
            message.source == Source.API
            or message.status != Status.PROCESSED
            or message.order is None
        ):
            continue
        keys.append((message.channel_id, message.order.external_id))
        if (
            message.source == Source.SHOPIFY
            and message.topic != REFUND_TOPIC
            and message.order.platform_id
        ):
            key = shopify_order_key(message.order.platform_id)
            keys.append((message.channel_id, key))
    return keys


def early_messages_apply(keys: list[tuple[int, str]]) -> None:
    """Apply, oldest first, the messages kept because they came before their
    order (`Status.EARLY`: a cancellation delivered before the order), now
    that the order is here; each outcome saved on its message."""
    if not keys:
        return
    for early in lock_inbound_early(keys):
        early.status = Status.RECEIVED
        inbound_apply_locked(message=early)
        inbound_outcome_save(message=early)


def inbound_process(*, message_id: int) -> Outcome:
    """Apply a stored message once: lock it, apply it, record the outcome."""
    with transaction.atomic():
        return inbound_process_locked(lock_inbound_message(message_id))


@app.task()
def inbound_process_task(message_id: int) -> str:
    return inbound_process(message_id=message_id).status
