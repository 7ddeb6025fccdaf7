"""What generic channels hear about their orders: `order.created`,
`order.cancelled` and `order.refunded`, as signed webhooks to the channel's
webhook URL, recorded in the transaction of the change."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from connections.models import OutboundMessage
from connections.outbox.rules import GENERIC, max_attempts, platform_of
from connections.outbox.services import (
    message_id_new,
    outbox_record,
    payload_plain,
    send_on_commit,
)
from core.lookups import ids_in
from orders.models import Channel, Order, OrderLine

Kind = OutboundMessage.Kind


def webhook_channels() -> dict[int, Channel]:
    """The active generic channels with a webhook URL, by id: read each time
    (one query on the few channels, what a hit in the database cache would
    cost), so a channel given a webhook URL or switched off counts at once."""
    return {
        channel.pk: channel
        for channel in Channel.objects.filter(active=True).exclude(webhook_url="")
        if platform_of(channel) == GENERIC
    }


def generic_channels(order_ids: Iterable[int]) -> dict[int, Channel]:
    """The generic channels with a webhook URL that these orders came from."""
    # The few channels first: most shops have none with a
    # webhook, and then the orders (25,000 from an import) are never looked at.
    candidates = webhook_channels()
    if not candidates:
        return {}
    used = (
        Order.objects.filter(ids_in("pk", list(order_ids)), channel_id__in=candidates)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    return {pk: candidates[pk] for pk in used}


def order_payload(order: Order, event: str) -> dict[str, Any]:
    """What a generic channel is told about one of its orders."""
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
    of these orders (the `order.event` hook); return how many.

    Set-based (a CSV import of thousands records them in a few statements);
    an order already told about this event is not told twice.
    """
    if event not in (Kind.ORDER_CREATED, Kind.ORDER_CANCELLED):
        raise ValueError(f"{event!r} is not an order event the outbox sends.")
    channels = generic_channels(order_ids)
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
        payload = order_payload(order, event)
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
                payload=payload_plain({**payload, "kind": event, "key": key}),
                message_id=message_id_new(),
                attempts_left=attempts,
                next_attempt_at=now,
            )
        )
    created = OutboundMessage.objects.bulk_create(messages, batch_size=1000)
    send_on_commit([message.pk for message in created])
    return len(created)


def outbox_order_refunded(
    *,
    order: Order,
    refund_number: str,
    amount,
    lines: Sequence[dict[str, Any]],
    reason: str = "",
) -> OutboundMessage | None:
    """Record `order.refunded` for the order's generic channel (the
    `refund.approved` hook, when a refund is approved)."""
    channel = generic_channels([order.pk]).get(order.channel_id)
    if channel is None:
        return None
    payload = order_payload(order, Kind.ORDER_REFUNDED)
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
