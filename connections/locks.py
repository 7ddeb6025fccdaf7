"""Every row lock the connections app takes, in one place.

Lock order (docs/architecture.md): channels, then inbound messages, then
what the services they call lock (orders, then shipments, then stock levels).
Outbound messages are locked alone (a replay), never with anything else.
"""

from datetime import datetime

from django.db.models import Q

from connections.models import InboundMessage, OutboundMessage
from orders.models import Channel


def lock_channel_by_code(code: str) -> Channel | None:
    """Lock the channel with this code (None when there is none)."""
    return Channel.objects.select_for_update().filter(code=code).order_by("pk").first()


def lock_inbound_message(message_id: int) -> InboundMessage:
    """Lock one inbound message (its row only), with its channel read."""
    return (
        InboundMessage.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=message_id)
    )


def lock_inbound_waiting(
    *, limit: int, received_before: datetime | None = None
) -> list[InboundMessage]:
    """Lock up to `limit` waiting messages, oldest first, skipping those another
    worker holds (several workers drain side by side)."""
    waiting = InboundMessage.objects.filter(status=InboundMessage.Status.RECEIVED)
    if received_before is not None:
        waiting = waiting.filter(received_at__lt=received_before)
    return list(
        waiting.select_for_update(skip_locked=True, of=("self",))
        .select_related("channel")
        .order_by("pk")[:limit]
    )


def lock_inbound_early(keys: list[tuple[int, str]]) -> list[InboundMessage]:
    """Lock the messages kept until their order came (by channel id and
    external id), oldest first, skipping those another worker holds."""
    wanted = Q()
    for channel_id, external_id in keys:
        wanted |= Q(channel_id=channel_id, external_id=external_id)
    return list(
        InboundMessage.objects.filter(wanted, status=InboundMessage.Status.EARLY)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("channel")
        .order_by("pk")
    )


def lock_outbound_messages(message_ids: list[int]) -> list[OutboundMessage]:
    """Lock these outbox messages (their rows only), with their channels read."""
    return list(
        OutboundMessage.objects.select_for_update(of=("self",))
        .filter(pk__in=message_ids)
        .select_related("channel")
        .order_by("pk")
    )
