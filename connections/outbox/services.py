"""Recording what the shops and channels must hear, in the transaction of the
change, and replaying what was sent or failed.

Every recording function runs inside its caller's transaction and only
writes rows: the message is sent after commit (`send_on_commit` wakes a
sender) by `connections.outbox.sending`, and if the process dies between the
commit and the wake-up, the periodic `outbox_send_due` takes the message up.
A message is recorded once per channel, kind and key (a shipment, an order,
a refund): recording it again does nothing.
"""

import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from connections.locks import lock_outbound_messages
from connections.models import OutboundMessage
from connections.outbox.rules import max_attempts, platform_of
from connections.outbox.sending import send_on_commit
from core.users import Actor
from fulfillment.models import Shipment
from orders.models import Channel, Order

logger = logging.getLogger("oms.outbox")

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status


def payload_plain(payload: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON: dates and decimals as the channel reads them."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def message_id_new() -> str:
    """Return a new Standard Webhooks `webhook-id` for a message."""
    return f"msg_{uuid.uuid4().hex}"


def outbox_record(
    *,
    channel: Channel,
    kind: str,
    key: str,
    payload: dict[str, Any],
    order: Order | None = None,
    shipment: Shipment | None = None,
    platform: str = "",
    stamped: bool = True,
    unique_key: bool = False,
) -> OutboundMessage | None:
    """Record one message for the channel and send it after commit.

    `platform` is how it is sent (the channel's platform unless given);
    `stamped` adds the message's kind and key to the payload (what the shops'
    messages and the order events carry; shipment webhooks are sent as they
    always were, without); `unique_key` says the key is new by construction,
    so it is not looked up. Return the message, or None when the same one
    (channel, kind, key) was recorded before.
    """
    key = key[:100]
    if (
        not unique_key
        and OutboundMessage.objects.filter(
            channel=channel, kind=kind, dedupe_key=key
        ).exists()
    ):
        return None
    body = {**payload, "kind": kind, "key": key} if stamped else payload
    message = OutboundMessage.objects.create(
        channel=channel,
        platform=platform or platform_of(channel),
        kind=kind,
        dedupe_key=key,
        order=order,
        shipment=shipment,
        payload=payload_plain(body),
        message_id=message_id_new(),
        attempts_left=max_attempts(),
        next_attempt_at=timezone.now(),
    )
    send_on_commit([message.pk])
    return message


REPLAYABLE = {Status.FAILED, Status.SUPERSEDED, Status.SENT, Status.NOT_CONNECTED}


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
    for message in lock_outbound_messages([message.pk for message in messages]):
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
