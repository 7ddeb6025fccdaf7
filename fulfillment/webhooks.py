"""Shipping updates back to the sales channel: a signed JSON POST per change.

The body is signed with HMAC-SHA256 under the channel's secret and the hex
digest sent as `X-OMS-Signature: sha256=<hex>`, so the channel can check
that the update comes from us and was not altered. Each attempt is written
to `WebhookDelivery` with the answer; failures are retried with backoff by
`channel_webhook_send_task`, beside the delivery it runs.
"""

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

from fulfillment.models import Shipment, WebhookDelivery
from orders.models import Channel

SIGNATURE_HEADER = "X-OMS-Signature"
# With a queue that can wait (the database backend): 1, 2, 4, 8 … minutes apart.
MAX_ATTEMPTS = 6
# In-process (no queue to wait in): a few quick tries, so a request never
# waits long for a channel that is down.
INLINE_ATTEMPTS = 3
INLINE_BACKOFF_SECONDS = 0.25


class Event:
    SHIPPED = "shipment.shipped"
    TRACKING = "shipment.tracking_updated"
    DELIVERED = "shipment.delivered"


def sign(body: bytes, secret: str) -> str:
    """Return the hex HMAC-SHA256 of the body under the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """Return the exact bytes that are sent (and signed)."""
    return json.dumps(
        payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True
    ).encode()


def retry_delay(attempt: int) -> timedelta:
    """Back off after the n-th failed attempt: 1, 2, 4, 8, 16 minutes."""
    return timedelta(minutes=2 ** max(0, attempt - 1))


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
    }
    transaction.on_commit(lambda: channel_webhook_send_task.enqueue(**arguments))
    return True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (a failure), never a second POST elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def channel_webhook_deliver(
    *,
    channel_id: int,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict[str, Any],
    attempt: int = 1,
) -> WebhookDelivery | None:
    """POST one update to the channel and record the attempt; None when the
    channel no longer has a webhook URL."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None or not channel.webhook_url:
        return None
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OMS-webhooks/1",
        "X-OMS-Event": event,
        "X-OMS-Attempt": str(attempt),
    }
    if channel.webhook_secret:
        headers[SIGNATURE_HEADER] = f"sha256={sign(body, channel.webhook_secret)}"
    request = urllib.request.Request(
        channel.webhook_url, data=body, headers=headers, method="POST"
    )
    code, error = None, ""
    started = time.monotonic()
    timeout = getattr(settings, "OMS_WEBHOOK_TIMEOUT", 5)
    try:
        with _opener.open(request, timeout=timeout) as response:
            code = response.status
            response.read(4096)
    except urllib.error.HTTPError as answer:
        code = answer.code
        error = f"HTTP {answer.code} {answer.reason}"
        answer.close()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as failure:
        reason = getattr(failure, "reason", failure)
        error = f"{type(failure).__name__}: {reason}"
    succeeded = code is not None and 200 <= code < 300
    return WebhookDelivery.objects.create(
        channel=channel,
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        url=channel.webhook_url[:500],
        payload=payload,
        attempt=attempt,
        response_code=code,
        error=error[:255],
        succeeded=succeeded,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


@task()
def channel_webhook_send_task(
    channel_id: int,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict,
    attempt: int = 1,
) -> bool:
    """POST a shipping update to a sales channel; retry with backoff on failure."""
    delivery = channel_webhook_deliver(
        channel_id=channel_id,
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        payload=payload,
        attempt=attempt,
    )
    if delivery is None or delivery.succeeded:
        return True
    again = {
        "channel_id": channel_id,
        "order_id": order_id,
        "shipment_id": shipment_id,
        "event": event,
        "payload": payload,
        "attempt": attempt + 1,
    }
    if default_task_backend.supports_defer:
        if attempt < MAX_ATTEMPTS:
            channel_webhook_send_task.using(
                run_after=timezone.now() + retry_delay(attempt)
            ).enqueue(**again)
    elif attempt < INLINE_ATTEMPTS:
        # An in-process backend cannot wait in a queue: pause briefly, try again.
        time.sleep(INLINE_BACKOFF_SECONDS * 2 ** (attempt - 1))
        channel_webhook_send_task.enqueue(**again)
    return False
