"""Sending the outbox: the one delivery engine for every message (shops'
APIs, our signed webhooks, customer e-mails), outside transactions.

The engine is the same for all: a message is due at `next_attempt_at`; a
sender claims it with a lease; it is tried with a bounded request; the
outcome is recorded (sent; due again after `rules.retry_delay`, the one
back-off with jitter; failed when its attempts run out or the destination
refused it, until someone replays it; parked as not connected while its
channel is not connected to a shop, a demo channel); a destination that does
not answer is paused (`destinations`) so its messages wait without spending
attempts; and the periodic `outbox_send_due` takes up what is due, what a
lost wake-up left and what a dead sender held. What differs is only how a
message is carried: shop and webhook messages one HTTP request at a time
(below), e-mails in batches over one SMTP connection
(`connections.outbox.email`, at most once).

An HTTP sender first claims the message (pending and due → sending, with a lease
in `next_attempt_at`), then makes its requests (each bounded by
`OMS_OUTBOX_TIMEOUT`) with no transaction open, then records the attempt and
the outcome: sent; pending again with the next attempt scheduled (backoff,
or the shop's `Retry-After`); or failed, when the shop refused the message
or the attempts ran out — until someone replays it. A failure is never
slept on: with a queue that can wait the retry is a task to run then, and in
every case the periodic `outbox_send_due` takes up what is due (and what a
sender that died left in sending once its lease ran out).
"""

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connections.generic import webhooks as generic
from connections.http import (
    Answer,
    NotConnected,
    Outcome,
    SendError,
    shop_base_url,
)
from connections.models import ChannelListing, OutboundAttempt, OutboundMessage
from connections.outbox.destinations import (
    destination_answered,
    destination_key,
    destination_pause,
    destination_paused_until,
)
from connections.outbox.email import emails_send
from connections.outbox.rules import (
    EMAIL,
    GENERIC,
    SHOPIFY,
    WOOCOMMERCE,
    available_quantity,
    coalesce_window,
    retry_delay,
)
from connections.shopify import outbound as shopify
from connections.woocommerce import outbound as woocommerce
from core.faults import fault_pause
from core.sequences import sequence_reserve
from core.tasks import app, tasks_can_wait
from orders.models import Channel

logger = logging.getLogger("oms.outbox")

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status
# Our signed shipment webhooks: sent to the channel's webhook URL whatever
# its platform.
SHIPMENT_WEBHOOKS = {
    Kind.SHIPMENT_SHIPPED,
    Kind.SHIPMENT_TRACKING,
    Kind.SHIPMENT_DELIVERED,
}


def sending_lease() -> timedelta:
    """A sender that has not recorded its outcome by then died; the message
    is taken up again, and the late sender cannot record one
    (`OMS_OUTBOX_LEASE_SECONDS`)."""
    return timedelta(seconds=settings.OMS_OUTBOX_LEASE_SECONDS)


# With a queue, due messages are the queue's; the sweep takes up only those
# overdue by this much (a lost task).
QUEUED_GRACE = timedelta(minutes=1)
# Messages one run of `outbox_send_due` takes up (every 15 s).
SWEEP_BATCH = 5000
# Messages per sending task (one task row per chunk, not per message; an
# e-mail chunk is one SMTP connection).
SEND_CHUNK = 200


def queue_can_wait() -> bool:
    return tasks_can_wait()


def send_on_commit(message_ids: Sequence[int], *, run_after=None) -> None:
    """Wake a sender for these messages once the caller's transaction commits.

    The rows are the record, written in the caller's transaction; the task
    only wakes a sender, so it is deferred after the commit: deferred inside,
    every transaction recording a message (allocations, stock changes) would
    also NOTIFY the workers at its commit (Procrastinate's insert trigger),
    and PostgreSQL commits notifying transactions one at a time
    (bench_allocation, 8 processes: the first phase 18-46 % behind the code
    before Procrastinate with the defer inside, 8-15 % after the commit). A
    wake-up lost to a process dying in between is made good by
    `outbox_send_due` within `QUEUED_GRACE` and its 15 s period."""
    ids = list(message_ids)
    if not ids:
        return
    if run_after is not None and run_after > timezone.now():
        if queue_can_wait():
            transaction.on_commit(
                lambda: outbox_send_many_task.configure(schedule_at=run_after).defer(
                    message_ids=ids
                )
            )
        return  # without a queue, `outbox_send_due` takes it up when due
    for start in range(0, len(ids), SEND_CHUNK):
        chunk = ids[start : start + SEND_CHUNK]
        transaction.on_commit(
            lambda chunk=chunk: outbox_send_many_task.defer(message_ids=chunk)
        )


def outbox_claim(message_id: int, now: datetime) -> OutboundMessage | None:
    """Take the message for sending; None when it is not due, not pending, or
    (stock) another push of the same SKU to the same channel is on its way."""
    due = Q(status__in=[Status.PENDING, Status.SENDING], next_attempt_at__lte=now)
    # E-mails are claimed in batches by `connections.outbox.email`.
    message = (
        OutboundMessage.objects.filter(due, pk=message_id)
        .exclude(platform=EMAIL)
        .first()
    )
    if message is None:
        return None
    paused = destination_paused_until(
        destination_key(platform=message.platform, channel_id=message.channel_id),
        now=now,
    )
    if paused is not None:
        # Its destination is down: wait for the pause to end, spending nothing.
        OutboundMessage.objects.filter(
            pk=message_id, status=Status.PENDING, next_attempt_at__lt=paused
        ).update(next_attempt_at=paused)
        return None
    try:
        with transaction.atomic(durable=True):
            if message.kind == Kind.INVENTORY_UPDATED:
                # A push whose sender died is replaced by this newer one.
                OutboundMessage.objects.filter(
                    channel_id=message.channel_id,
                    kind=message.kind,
                    dedupe_key=message.dedupe_key,
                    status=Status.SENDING,
                    next_attempt_at__lte=now,
                ).exclude(pk=message.pk).update(
                    status=Status.SUPERSEDED,
                    next_attempt_at=None,
                    last_error="Its sender stopped answering; a newer push "
                    "replaces it.",
                )
            claimed = OutboundMessage.objects.filter(due, pk=message_id).update(
                status=Status.SENDING,
                attempts=F("attempts") + 1,
                next_attempt_at=now + sending_lease(),
            )
            if not claimed:
                return None
            if message.kind == Kind.INVENTORY_UPDATED:
                OutboundMessage.objects.filter(pk=message_id).update(
                    sequence=sequence_reserve(name="outbox_stock")[0]
                )
    except IntegrityError:
        # Another push of this SKU to this channel is on its way: go after it.
        later = now + max(coalesce_window(), timedelta(seconds=1))
        OutboundMessage.objects.filter(pk=message_id, status=Status.PENDING).update(
            next_attempt_at=later
        )
        if queue_can_wait():
            outbox_send_many_task.configure(schedule_at=later).defer(
                message_ids=[message_id]
            )
        return None
    return OutboundMessage.objects.select_related("channel", "product").get(
        pk=message_id
    )


def shopify_fulfillment_id(message: OutboundMessage) -> str:
    created = (
        OutboundMessage.objects.filter(
            channel_id=message.channel_id,
            kind=Kind.FULFILLMENT_CREATE,
            shipment_id=message.shipment_id,
        )
        .values_list("status", "remote_id")
        .first()
    )
    if created and created[0] == Status.SENT and created[1]:
        return created[1]
    state = f"its fulfilment message is {created[0]}" if created else "none was sent"
    raise SendError(
        f"Shopify has no fulfilment for shipment {message.payload.get('shipment')} "
        f"yet ({state}); the tracking follows once it has one.",
        retry=bool(created) and created[0] != Status.FAILED,
    )


def stock_send(channel: Channel, message: OutboundMessage, outcome: Outcome) -> None:
    quantity = available_quantity(message.product_id)
    if message.platform == GENERIC:
        outcome.sent_quantity = quantity
        generic.post(
            channel,
            message,
            outcome,
            payload={
                "event": Kind.INVENTORY_UPDATED,
                "sku": message.product.sku,
                "available": quantity,
                "sequence": message.sequence,
                "occurred_at": timezone.now().isoformat(),
            },
        )
        return
    listing = ChannelListing.objects.filter(
        channel=channel, product_id=message.product_id
    ).first()
    if listing is None:
        raise SendError(
            f"SKU {message.product.sku} is no longer listed for channel "
            f"{channel.code}.",
            retry=False,
        )
    listing.product = message.product
    if message.platform == SHOPIFY:
        shopify.inventory_set(channel, outcome, listing=listing, quantity=quantity)
    else:
        woocommerce.product_stock_set(
            channel, outcome, listing=listing, quantity=quantity
        )


def outbox_dispatch(message: OutboundMessage, outcome: Outcome) -> None:
    """Make the requests that deliver the message; raise SendError if not."""
    channel = message.channel
    if not channel.active:
        raise SendError(
            f"Channel {channel.code} is inactive; activate it, then replay.",
            retry=False,
        )
    if message.platform in (SHOPIFY, WOOCOMMERCE):
        # A shop not connected (a demo channel) parks the message before
        # anything else is asked (a tracking update waits for no fulfilment).
        shop_base_url(channel)
    if message.kind == Kind.INVENTORY_UPDATED:
        stock_send(channel, message, outcome)
    elif message.kind in SHIPMENT_WEBHOOKS:
        generic.post(channel, message, outcome, payload=message.payload)
    elif message.platform == SHOPIFY and message.kind == Kind.FULFILLMENT_CREATE:
        shopify.fulfillment_create(channel, message, outcome)
    elif message.platform == SHOPIFY and message.kind == Kind.TRACKING_UPDATE:
        shopify.tracking_update(
            channel, message, outcome, fulfillment_id=shopify_fulfillment_id(message)
        )
    elif message.platform == WOOCOMMERCE and message.kind in (
        Kind.FULFILLMENT_CREATE,
        Kind.ORDER_COMPLETED,
        Kind.TRACKING_UPDATE,
    ):
        woocommerce.order_shipped(channel, message, outcome)
    elif message.platform == GENERIC:
        generic.post(channel, message, outcome, payload=message.payload)
    else:
        raise SendError(
            f"{message.get_kind_display()} is not sent to {message.platform} channels.",
            retry=False,
        )


def outbox_finish(
    message: OutboundMessage,
    *,
    outcome: Outcome,
    failure: SendError | None,
    started: datetime,
    duration_ms: int,
) -> OutboundMessage:
    """Record the attempt and what becomes of the message."""
    answers = outcome.answers or (
        [failure.answer] if failure and failure.answer else []
    )
    last = answers[-1] if answers else None
    error = str(failure)[:500] if failure else ""
    now = timezone.now()
    attempt = dict(
        message=message,
        number=message.attempts,
        started_at=started,
        duration_ms=duration_ms,
        request="; ".join(answer.request for answer in answers)[:300],
        response_code=last.code if last else None,
        response=last.excerpt() if last else "",
        error=error,
        succeeded=failure is None,
    )
    fields = {
        "response_code": last.code if last else None,
        "last_error": error,
        "attempts_left": max(0, message.attempts_left - 1),
    }
    destination = destination_key(
        platform=message.platform, channel_id=message.channel_id
    )
    if failure is None:
        destination_answered(destination)
        fields.update(
            status=Status.SENT,
            sent_at=now,
            next_attempt_at=None,
            remote_id=outcome.remote_id[:200],
            sent_quantity=outcome.sent_quantity,
        )
        logger.info("outbox sent %s %s", message.pk, message.kind)
    elif failure.retry and fields["attempts_left"] > 0:
        wait = retry_delay(message.attempts)
        if last and last.retry_after:
            wait = max(wait, timedelta(seconds=min(last.retry_after, 3600)))
        if destination_down(last):
            # Every message to it would fail alike: pause it.
            paused = destination_pause(destination, error=error, now=now)
            wait = max(wait, paused - now)
        fields.update(status=Status.PENDING, next_attempt_at=now + wait)
        logger.warning("outbox retry %s later: %s", message.pk, error)
    elif isinstance(failure, NotConnected):
        # Nothing to act on until the channel is connected: parked, not failed.
        fields.update(status=Status.NOT_CONNECTED, next_attempt_at=None)
        logger.debug("outbox not connected %s: %s", message.pk, error)
    else:
        fields.update(status=Status.FAILED, next_attempt_at=None)
        logger.warning("outbox failed %s: %s", message.pk, error)
    if (
        message.kind == Kind.INVENTORY_UPDATED
        and fields["status"] != Status.SENT
        and OutboundMessage.objects.filter(
            channel_id=message.channel_id,
            kind=message.kind,
            dedupe_key=message.dedupe_key,
            status=Status.PENDING,
        )
        .exclude(pk=message.pk)
        .exists()
    ):
        # A newer push waits and will carry the newest quantity.
        fields.update(status=Status.SUPERSEDED, next_attempt_at=None)
    # Only while this sender still holds the message: one whose lease ran out
    # (declared dead, the message taken up again) records nothing.
    held = OutboundMessage.objects.filter(
        pk=message.pk, status=Status.SENDING, attempts=message.attempts
    )
    try:
        with transaction.atomic():
            if not held.update(**fields):
                logger.warning(
                    "outbox %s: the lease ran out; another sender has it", message.pk
                )
                message.refresh_from_db()
                return message
            OutboundAttempt.objects.create(**attempt)
    except IntegrityError:
        fields.update(status=Status.SUPERSEDED, next_attempt_at=None)
        with transaction.atomic():
            if held.update(**fields):
                OutboundAttempt.objects.create(**attempt)
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def destination_down(answer: Answer | None) -> bool:
    """Whether the answer says the destination itself is down (no answer, a
    server error, too many requests), not that it refused this message."""
    if answer is None:
        return False
    return answer.code is None or answer.code >= 500 or answer.code == 429


def outbox_send(
    *, message_id: int, now: datetime | None = None
) -> OutboundMessage | None:
    """Make one attempt at a due message; return it, or None when it was not
    taken (not due, not pending, or taken by another sender). Must run
    outside any transaction: no row lock is held while the shop answers."""
    message = outbox_claim(message_id, now or timezone.now())
    if message is None:
        return None
    started = timezone.now()
    clock = time.monotonic()
    outcome = Outcome()
    failure: SendError | None = None
    fault_pause("outbox.request")  # the fault suite stops the sender here
    try:
        outbox_dispatch(message, outcome)
    except SendError as error:
        failure = error
    message = outbox_finish(
        message,
        outcome=outcome,
        failure=failure,
        started=started,
        duration_ms=int((time.monotonic() - clock) * 1000),
    )
    if message.status == Status.PENDING and queue_can_wait():
        outbox_send_many_task.configure(schedule_at=message.next_attempt_at).defer(
            message_ids=[message.pk]
        )
    return message


def outbox_send_many(*, message_ids: Sequence[int], now: datetime | None = None) -> int:
    """Make an attempt at each of these messages that is due: e-mails in one
    batch over one SMTP connection, the others one request each. Return how
    many were sent. Outside any transaction."""
    platforms = dict(
        OutboundMessage.objects.filter(pk__in=list(message_ids)).values_list(
            "pk", "platform"
        )
    )
    emails = [pk for pk in message_ids if platforms.get(pk) == EMAIL]
    sent = 0
    if emails:
        outcome = emails_send(message_ids=emails, now=now)
        sent += sum(status == Status.SENT for status in outcome.values())
        retry = [pk for pk, status in outcome.items() if status == Status.PENDING]
        if retry and queue_can_wait():
            due = min(
                OutboundMessage.objects.filter(pk__in=retry).values_list(
                    "next_attempt_at", flat=True
                )
            )
            # Never at once, never by sleeping: the queue waits for it.
            outbox_send_many_task.configure(schedule_at=due).defer(
                message_ids=sorted(retry)
            )
    for message_id in message_ids:
        if platforms.get(message_id, EMAIL) == EMAIL:
            continue
        message = outbox_send(message_id=message_id, now=now)
        sent += message is not None and message.status == Status.SENT
    return sent


@app.task()
def outbox_send_many_task(message_ids: list[int]) -> int:
    """Send these outbox messages (those due); return how many were sent."""
    return outbox_send_many(message_ids=message_ids)


def outbox_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """The messages due for an attempt that no queued task will take up."""
    now = now or timezone.now()
    late = now - QUEUED_GRACE if queue_can_wait() else now
    due = OutboundMessage.objects.filter(
        Q(status=Status.PENDING, next_attempt_at__lte=late)
        | Q(status__in=[Status.CLAIMED, Status.SENDING], next_attempt_at__lte=now)
    )
    return list(
        due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )


def outbox_send_due_run(*, now: datetime | None = None) -> int:
    """Attempt every due message (with a queue: enqueue them); return how many."""
    now = now or timezone.now()
    ids = outbox_due(now=now)
    for start in range(0, len(ids), SEND_CHUNK):
        chunk = ids[start : start + SEND_CHUNK]
        if queue_can_wait():
            outbox_send_many_task.defer(message_ids=chunk)
        else:
            outbox_send_many(message_ids=chunk, now=now)
    return len(ids)


@app.periodic(cron="* * * * * */15", periodic_id="outbox-due")
@app.task(queueing_lock="outbox-due")
def outbox_send_due(timestamp: int = 0) -> int:
    """Periodic (`periodic`): send the outbox messages that are due."""
    return outbox_send_due_run()
