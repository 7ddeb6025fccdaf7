"""Shipping updates back to the sales channel: a signed JSON POST per change.

Signed per the Standard Webhooks spec (the `standardwebhooks` package) under
the channel's secret: `webhook-id` (the same on every attempt of one
message), `webhook-timestamp` and `webhook-signature`, so the channel can
check that the update comes from us, unaltered, and refuse replays.

No network call waits in a request or under a lock. An attempt is one POST,
bounded by `OMS_WEBHOOK_TIMEOUT` (connect and each read), made outside any
transaction after the change committed. Each attempt is a `WebhookDelivery`
row, written before the POST and completed with the answer. A failure is
never slept on: the row gets `next_attempt_at` (1, 2, 4, 8, 16 minutes
later, `MAX_ATTEMPTS` in all); with a task queue that can wait (the
database backend) the retry is enqueued to run then, and in every case the
periodic `webhooks_retry_due` takes up what is due and was not taken up
(the in-process backend, a lost task, a sender that died mid-POST). Whoever
retries first claims the row; a retry never runs twice.
"""

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task
from standardwebhooks import Webhook

from fulfillment.models import Shipment, WebhookDelivery
from orders.models import Channel
from orders.services.channels import channel_secret_standard

# 1, 2, 4, 8, 16 minutes apart: six attempts over about half an hour.
MAX_ATTEMPTS = 6
# A sender that has not recorded its answer by then died: the attempt is
# retried by `webhooks_retry_due`.
SENDING_LEASE = timedelta(minutes=5)
# With a queue, due retries are the queue's; the sweep takes up only those
# overdue by this much (a task that was lost).
QUEUED_RETRY_GRACE = timedelta(minutes=1)
# Deliveries one run of `webhooks_retry_due` takes up (each is one bounded POST).
RETRY_BATCH = 50
SENDING = "Sending: no answer recorded yet."


class Event:
    SHIPPED = "shipment.shipped"
    TRACKING = "shipment.tracking_updated"
    DELIVERED = "shipment.delivered"


def sign_headers(
    *, body: bytes, secret: str, message_id: str, at: datetime | None = None
) -> dict[str, str]:
    """Return the Standard Webhooks headers that sign `body` under `secret`."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(channel_secret_standard(secret)).sign(
        msg_id=message_id, timestamp=at, data=body.decode()
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def encode(payload: dict[str, Any]) -> bytes:
    """Return the exact bytes that are sent (and signed)."""
    return json.dumps(
        payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True
    ).encode()


def retry_delay(attempt: int) -> timedelta:
    """Back off after the n-th failed attempt: 1, 2, 4, 8, 16 minutes."""
    return timedelta(minutes=2 ** max(0, attempt - 1))


def timeout_seconds() -> float:
    return float(getattr(settings, "OMS_WEBHOOK_TIMEOUT", 5))


def shipment_payload(*, shipment: Shipment, event: str) -> dict[str, Any]:
    """What the channel is told about a shipment (two queries: order, lines)."""
    shipment = Shipment.objects.select_related("order", "carrier").get(pk=shipment.pk)
    order = shipment.order
    lines = shipment.lines.select_related("order_line").order_by("pk")
    carrier = shipment.carrier
    return {
        "event": event,
        "order": {
            "number": order.number,
            "external_id": order.external_id,
            "status": order.status,
        },
        "shipment": {
            "number": shipment.number,
            "status": shipment.status,
            "exception_reason": shipment.exception_reason,
            "carrier": {"code": carrier.code, "name": carrier.name}
            if carrier
            else None,
            "service": shipment.service,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "shipped_at": shipment.shipped_at,
            "estimated_delivery": shipment.estimated_delivery,
            "delivered_at": shipment.delivered_at,
        },
        "lines": [
            {
                "sku": line.order_line.sku,
                "name": line.order_line.name,
                "quantity": line.quantity,
            }
            for line in lines
        ],
        "occurred_at": timezone.now(),
    }


def channel_webhook_queue(*, shipment: Shipment, event: str) -> bool:
    """Tell the order's channel about the shipment once the transaction commits.

    The payload is taken now, inside the transaction, so it describes the
    shipment as this change left it. Channels without a webhook URL are
    skipped.
    """
    channel = Channel.objects.only("webhook_url", "active").get(
        pk=shipment.order.channel_id
    )
    if not channel.webhook_url:
        return False
    # Round-trip through JSON: the task queue stores plain values only.
    payload = json.loads(encode(shipment_payload(shipment=shipment, event=event)))
    arguments = {
        "channel_id": channel.pk,
        "order_id": shipment.order_id,
        "shipment_id": shipment.pk,
        "event": event,
        "payload": payload,
        "attempt": 1,
        "message_id": f"msg_{uuid.uuid4().hex}",
    }
    transaction.on_commit(lambda: channel_webhook_send_task.enqueue(**arguments))
    return True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (a failure), never a second POST elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST once, bounded by the timeout; return (status code, error text)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout_seconds()) as response:
            response.read(4096)
            return response.status, ""
    except urllib.error.HTTPError as answer:
        answer.close()
        return answer.code, f"HTTP {answer.code} {answer.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError) as failure:
        reason = getattr(failure, "reason", failure)
        return None, f"{type(failure).__name__}: {reason}"
    except ValueError as failure:  # a URL urllib cannot take
        return None, f"{type(failure).__name__}: {failure}"


def _attempt_begin(
    *,
    channel: Channel,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict[str, Any],
    attempt: int,
    message_id: str,
    retry_of: int | None,
) -> WebhookDelivery | None:
    """Record the attempt before the POST; None when the retry was taken up
    by another sender first.

    The durable block refuses to run inside another transaction: the POST
    that follows must never hold a caller's row locks while it waits.
    """
    with transaction.atomic(durable=True):
        if retry_of is not None:
            claimed = WebhookDelivery.objects.filter(
                pk=retry_of, next_attempt_at__isnull=False
            ).update(next_attempt_at=None)
            if not claimed:
                return None
        return WebhookDelivery.objects.create(
            channel=channel,
            order_id=order_id,
            shipment_id=shipment_id,
            event=event,
            url=channel.webhook_url[:500],
            payload=payload,
            attempt=attempt,
            message_id=message_id[:64],
            error=SENDING,
            next_attempt_at=timezone.now() + SENDING_LEASE,
        )


def channel_webhook_deliver(
    *,
    channel_id: int,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict[str, Any],
    attempt: int = 1,
    message_id: str = "",
    retry_of: int | None = None,
) -> WebhookDelivery | None:
    """POST one update to the channel and record the attempt with its answer.

    Return the delivery, or None when the channel no longer has a webhook URL
    or the retry `retry_of` was already taken up. Must run outside any
    transaction. A failure before the last attempt leaves `next_attempt_at`
    set to when the next one is due.
    """
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None or not channel.webhook_url:
        if retry_of is not None:
            WebhookDelivery.objects.filter(pk=retry_of).update(next_attempt_at=None)
        return None
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    delivery = _attempt_begin(
        channel=channel,
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        payload=payload,
        attempt=attempt,
        message_id=message_id,
        retry_of=retry_of,
    )
    if delivery is None:
        return None
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OMS-webhooks/2",
        "X-OMS-Event": event,
        "X-OMS-Attempt": str(attempt),
    }
    started = time.monotonic()
    try:
        if channel.webhook_secret:
            headers.update(
                sign_headers(
                    body=body, secret=channel.webhook_secret, message_id=message_id
                )
            )
    except ValueError as error:
        code, error = (
            None,
            f"Not sent: the channel's webhook secret is unusable ({error}) Rotate it.",
        )
    else:
        code, error = _post(channel.webhook_url, body, headers)
    delivery.response_code = code
    delivery.error = error[:255]
    delivery.succeeded = code is not None and 200 <= code < 300
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.next_attempt_at = (
        timezone.now() + retry_delay(attempt)
        if not delivery.succeeded and attempt < MAX_ATTEMPTS
        else None
    )
    delivery.save(
        update_fields=[
            "response_code",
            "error",
            "succeeded",
            "duration_ms",
            "next_attempt_at",
        ]
    )
    return delivery


def _retry_arguments(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "channel_id": delivery.channel_id,
        "order_id": delivery.order_id,
        "shipment_id": delivery.shipment_id,
        "event": delivery.event,
        "payload": delivery.payload,
        "attempt": delivery.attempt + 1,
        "message_id": delivery.message_id,
        "retry_of": delivery.pk,
    }


def _send(**arguments: Any) -> WebhookDelivery | None:
    """Make one attempt; with a queue that can wait, enqueue its retry."""
    delivery = channel_webhook_deliver(**arguments)
    if (
        delivery is not None
        and delivery.next_attempt_at
        and default_task_backend.supports_defer
    ):
        channel_webhook_send_task.using(run_after=delivery.next_attempt_at).enqueue(
            **_retry_arguments(delivery)
        )
    return delivery


@task()
def channel_webhook_send_task(
    channel_id: int,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict,
    attempt: int = 1,
    message_id: str = "",
    retry_of: int | None = None,
) -> bool:
    """POST a shipping update to a sales channel once; schedule the retry of
    a failure (with a queue: a task to run then; without: `next_attempt_at`,
    which `webhooks_retry_due` takes up)."""
    delivery = _send(
        channel_id=channel_id,
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        payload=payload,
        attempt=attempt,
        message_id=message_id,
        retry_of=retry_of,
    )
    return delivery is None or delivery.succeeded


def webhooks_retry(*, now: datetime | None = None) -> int:
    """Retry the failed deliveries that are due (and attempts cut short by a
    sender that died); return how many were tried. Outside any transaction."""
    now = now or timezone.now()
    due_by = now - QUEUED_RETRY_GRACE if default_task_backend.supports_defer else now
    due = list(
        WebhookDelivery.objects.filter(
            succeeded=False, next_attempt_at__isnull=False, next_attempt_at__lte=due_by
        ).order_by("next_attempt_at", "pk")[:RETRY_BATCH]
    )
    tried = 0
    for delivery in due:
        if delivery.attempt >= MAX_ATTEMPTS:
            # A last attempt whose sender died: nothing more is planned.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
            continue
        tried += _send(**_retry_arguments(delivery)) is not None
    return tried


@task()
def webhooks_retry_due() -> int:
    """Periodic (`OMS_PERIODIC_TASKS`): retry the channel webhooks that are due."""
    return webhooks_retry()
