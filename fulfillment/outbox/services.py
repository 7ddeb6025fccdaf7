"""Recording what the shops must hear, in the transaction of the change.

Every function here runs inside its caller's transaction and only writes
rows: the message is sent after commit (`transaction.on_commit` → task), by
`fulfillment.outbox.sending`. A message is recorded once per channel, kind
and key (a shipment, an order, a refund): recording it again does nothing.
"""

import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from core.lookups import ids_in
from core.users import Actor
from fulfillment.models import OutboundMessage, Shipment
from fulfillment.outbox.rules import (
    GENERIC,
    SHOPS,
    WOOCOMMERCE,
    max_attempts,
    platform_of,
)
from fulfillment.outbox.sending import outbox_send_many_task, queue_can_wait
from orders.models import Channel, Order, OrderLine

logger = logging.getLogger("oms.outbox")

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status
# Messages per sending task (one task row per chunk, not per message).
SEND_CHUNK = 200


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON: dates and decimals as the channel reads them."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def send_on_commit(message_ids: Sequence[int], *, run_after=None) -> None:
    if not message_ids:
        return
    ids = list(message_ids)
    if run_after is not None and run_after > timezone.now():
        if not queue_can_wait():
            return  # `outbox_send_due` takes it up when it is due.
        transaction.on_commit(
            lambda: outbox_send_many_task.using(run_after=run_after).enqueue(
                message_ids=ids
            )
        )
        return
    transaction.on_commit(lambda: outbox_send_many_task.enqueue(message_ids=ids))


def outbox_record(
    *,
    channel: Channel,
    kind: str,
    key: str,
    payload: dict[str, Any],
    order: Order | None = None,
    shipment: Shipment | None = None,
) -> OutboundMessage | None:
    """Record one message for the channel and send it after commit.

    Return the message, or None when the same one (channel, kind, key) was
    recorded before.
    """
    key = key[:100]
    if OutboundMessage.objects.filter(
        channel=channel, kind=kind, dedupe_key=key
    ).exists():
        return None
    message = OutboundMessage.objects.create(
        channel=channel,
        platform=platform_of(channel),
        kind=kind,
        dedupe_key=key,
        order=order,
        shipment=shipment,
        payload=_plain({**payload, "kind": kind, "key": key}),
        message_id=f"msg_{uuid.uuid4().hex}",
        attempts_left=max_attempts(),
        next_attempt_at=timezone.now(),
    )
    send_on_commit([message.pk])
    return message


# ---- shipments (Shopify and WooCommerce; generic channels hear them
# through `fulfillment.webhooks`)


def _shipment_payload(*, shipment: Shipment, channel: Channel) -> dict[str, Any]:
    shipment = Shipment.objects.select_related("order", "carrier").get(pk=shipment.pk)
    order = shipment.order
    carrier = shipment.carrier
    return {
        "order": {"number": order.number, "external_id": order.external_id},
        "shipment": shipment.number,
        "tracking": {
            "number": shipment.tracking_number,
            "company": carrier.name if carrier else "",
            "url": shipment.tracking_url,
        },
        "lines": [
            {"sku": line.order_line.sku, "quantity": line.quantity}
            for line in shipment.lines.select_related("order_line").order_by("pk")
        ],
        # When the OMS mails the customer, the shop must not mail them too.
        "notify_customer": not channel.send_customer_emails,
        "complete": order.status in ("shipped", "delivered"),
    }


def _shop_channel(order_id: int) -> Channel | None:
    channel = Channel.objects.get(orders__pk=order_id)
    if not channel.active or platform_of(channel) not in SHOPS:
        return None
    return channel


def outbox_shipment_shipped(*, shipment: Shipment) -> OutboundMessage | None:
    """Tell the order's shop that the shipment left, with its tracking.

    Shopify: a fulfillment on the order's fulfillment orders. WooCommerce: a
    note with carrier and tracking, and the order completed once everything
    has shipped.
    """
    channel = _shop_channel(shipment.order_id)
    if channel is None:
        return None
    payload = _shipment_payload(shipment=shipment, channel=channel)
    kind = Kind.FULFILLMENT_CREATE
    if platform_of(channel) == WOOCOMMERCE and payload["complete"]:
        kind = Kind.ORDER_COMPLETED
    return outbox_record(
        channel=channel,
        kind=kind,
        key=shipment.number,
        payload=payload,
        order=shipment.order,
        shipment=shipment,
    )


def outbox_shipment_tracking_changed(*, shipment: Shipment) -> OutboundMessage | None:
    """Tell the order's shop the shipment's new carrier and tracking number."""
    channel = _shop_channel(shipment.order_id)
    if channel is None:
        return None
    payload = _shipment_payload(shipment=shipment, channel=channel)
    payload["complete"] = False
    return outbox_record(
        channel=channel,
        kind=Kind.TRACKING_UPDATE,
        key=f"{shipment.number}:{shipment.version}",
        payload=payload,
        order=shipment.order,
        shipment=shipment,
    )


# ---- order events (generic channels)


# (read at, monotonic seconds; the generic channels with a webhook URL), per
# process.
_WEBHOOK_CHANNELS_SEEN: list[tuple[float, dict[int, Channel]]] = []


def _webhook_channels() -> dict[int, Channel]:
    """The active generic channels with a webhook URL, by id.

    Every new order asks (and the answer rarely changes): remembered per
    process for `OMS_STOCK_PUSH_CHANNELS_CACHE_SECONDS` (0 under pytest), as
    the channels that push stock are. A channel given a webhook URL hears of
    orders made from at most that many seconds later; one switched off may
    hear of one more order in that time."""
    ttl = settings.OMS_STOCK_PUSH_CHANNELS_CACHE_SECONDS
    now = time.monotonic()
    if _WEBHOOK_CHANNELS_SEEN and now - _WEBHOOK_CHANNELS_SEEN[0][0] < ttl:
        return _WEBHOOK_CHANNELS_SEEN[0][1]
    channels = {
        channel.pk: channel
        for channel in Channel.objects.filter(active=True).exclude(webhook_url="")
        if platform_of(channel) == GENERIC
    }
    _WEBHOOK_CHANNELS_SEEN[:] = [(now, channels)] if ttl > 0 else []
    return channels


def _generic_channels(order_ids: Iterable[int]) -> dict[int, Channel]:
    """The generic channels with a webhook URL that these orders came from."""
    # The few channels first (kept per process): most shops have none with a
    # webhook, and then the orders (25,000 from an import) are never looked at.
    candidates = _webhook_channels()
    if not candidates:
        return {}
    used = (
        Order.objects.filter(ids_in("pk", list(order_ids)), channel_id__in=candidates)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    return {pk: candidates[pk] for pk in used}


def _order_payload(order: Order, event: str) -> dict[str, Any]:
    return {
        "event": event,
        "order": {
            "number": order.number,
            "external_id": order.external_id,
            "status": order.status,
            "currency": order.currency,
            "total": order.total,
            "placed_at": order.placed_at,
        },
        "lines": [
            {"sku": line.sku, "quantity": line.quantity}
            for line in sorted(order.lines.all(), key=lambda line: line.pk)
        ],
        "occurred_at": timezone.now(),
    }


def outbox_orders_event(
    *, event: str, order_ids: Sequence[int], reason: str = ""
) -> int:
    """Record `order.created` or `order.cancelled` for the generic channels
    of these orders (`OMS_ORDER_OUTBOUND_HANDLERS`); return how many.

    Set-based (a CSV import of thousands records them in a few statements);
    an order already told about this event is not told twice.
    """
    if event not in (Kind.ORDER_CREATED, Kind.ORDER_CANCELLED):
        raise ValueError(f"{event!r} is not an order event the outbox sends.")
    channels = _generic_channels(order_ids)
    if not channels:
        return 0
    orders = (
        Order.objects.filter(pk__in=list(order_ids), channel_id__in=channels)
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
        .order_by("pk")
    )
    orders = list(orders)
    told = set(
        OutboundMessage.objects.filter(
            kind=event,
            channel_id__in=channels,
            dedupe_key__in=[order.number[:100] for order in orders],
        ).values_list("channel_id", "dedupe_key")
    )
    now = timezone.now()
    attempts = max_attempts()
    messages = []
    for order in orders:
        key = order.number[:100]
        if (order.channel_id, key) in told:
            continue
        payload = _order_payload(order, event)
        if reason:
            payload["reason"] = reason
        channel = channels[order.channel_id]
        messages.append(
            OutboundMessage(
                channel=channel,
                platform=platform_of(channel),
                kind=event,
                dedupe_key=key,
                order=order,
                payload=_plain({**payload, "kind": event, "key": key}),
                message_id=f"msg_{uuid.uuid4().hex}",
                attempts_left=attempts,
                next_attempt_at=now,
            )
        )
    created = OutboundMessage.objects.bulk_create(messages, batch_size=1000)
    for chunk_start in range(0, len(created), SEND_CHUNK):
        send_on_commit([m.pk for m in created[chunk_start : chunk_start + SEND_CHUNK]])
    return len(created)


def outbox_order_refunded(
    *,
    order: Order,
    refund_number: str,
    amount,
    lines: Sequence[dict[str, Any]],
    reason: str = "",
) -> OutboundMessage | None:
    """Record `order.refunded` for the order's generic channel (returns calls
    this when a refund is approved)."""
    channel = _generic_channels([order.pk]).get(order.channel_id)
    if channel is None:
        return None
    payload = _order_payload(order, Kind.ORDER_REFUNDED)
    payload["refund"] = {
        "number": refund_number,
        "amount": amount,
        "currency": order.currency,
        "reason": reason,
        "lines": list(lines),
    }
    return outbox_record(
        channel=channel,
        kind=Kind.ORDER_REFUNDED,
        key=refund_number,
        payload=payload,
        order=order,
    )


# ---- replay


REPLAYABLE = {Status.FAILED, Status.SUPERSEDED, Status.SENT}


@transaction.atomic
def outbox_replay(
    *, messages: Iterable[OutboundMessage], actor: Actor
) -> tuple[list[OutboundMessage], list[str]]:
    """Send these messages again, each with a fresh set of attempts.

    Return the replayed messages and, for each one left alone, why. A stock
    update is not replayed while a newer one waits: that one carries the
    newest quantity.
    """
    replayed: list[OutboundMessage] = []
    skipped: list[str] = []
    pks = [message.pk for message in messages]
    locked = OutboundMessage.objects.select_for_update().filter(pk__in=pks)
    for message in locked.select_related("channel").order_by("pk"):
        label = f"{message.get_kind_display()} {message.dedupe_key} ({message.channel})"
        if message.status not in REPLAYABLE:
            skipped.append(f"{label} is {message.get_status_display().lower()}.")
            continue
        if (
            message.kind == Kind.INVENTORY_UPDATED
            and OutboundMessage.objects.filter(
                channel_id=message.channel_id,
                kind=message.kind,
                dedupe_key=message.dedupe_key,
                status__in=[Status.PENDING, Status.SENDING],
            ).exists()
        ):
            skipped.append(f"{label}: a newer stock update is already on its way.")
            continue
        message.status = Status.PENDING
        message.attempts_left = max_attempts()
        message.next_attempt_at = timezone.now()
        message.save(update_fields=["status", "attempts_left", "next_attempt_at"])
        replayed.append(message)
        logger.info(
            "outbox replay %s by %s", message.pk, getattr(actor, "username", actor)
        )
    send_on_commit([message.pk for message in replayed])
    return replayed, skipped
