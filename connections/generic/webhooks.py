"""Our signed Standard Webhooks: one JSON POST per message to the channel's
webhook URL.

Signed per the Standard Webhooks spec (the `standardwebhooks` package) under
the channel's secret: `webhook-id` (the message's, the same on every attempt
of one message, so the channel can tell a retry from a new message),
`webhook-timestamp` and `webhook-signature`, so the channel can check that
the message comes from us, unaltered, and refuse replays. `X-OMS-Event`
names the event (`shipment.shipped`, `shipment.tracking_updated`,
`shipment.delivered`, `order.created`, `order.cancelled`, `order.refunded`,
`inventory.updated`) and `X-OMS-Attempt` counts the attempts.
"""

import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks import Webhook

from connections.http import Outcome, SendError, request
from orders.services.channels import channel_secret_standard


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


def post(channel, message, outcome: Outcome, *, payload: dict[str, Any]) -> None:
    """POST one signed event to the channel's webhook URL."""
    if not channel.webhook_url:
        raise SendError(
            f"Channel {channel.code} has no webhook URL any more; set one, then "
            "replay.",
            retry=False,
        )
    body = encode(payload)
    headers = {"X-OMS-Event": message.kind, "X-OMS-Attempt": str(message.attempts)}
    if channel.webhook_secret:
        try:
            headers.update(
                sign_headers(
                    body=body,
                    secret=channel.webhook_secret,
                    message_id=message.message_id,
                )
            )
        except ValueError as error:
            raise SendError(
                f"Not sent: the channel's webhook secret is unusable ({error}) "
                "Rotate it, then replay.",
                retry=False,
            ) from error
    answer = request("POST", channel.webhook_url, body=body, headers=headers)
    outcome.answers.append(answer)
    if not answer.ok:
        raise SendError(
            f"The channel answered {answer.error or answer.code}.",
            retry=answer.retryable,
            answer=answer,
        )
