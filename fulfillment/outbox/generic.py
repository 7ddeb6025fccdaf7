"""Generic channels: the signed Standard Webhooks of `fulfillment.webhooks`.

Shipment updates keep their own path there (`WebhookDelivery`); the order
and stock events of the outbox (`order.created`, `order.cancelled`,
`order.refunded`, `inventory.updated`) are POSTed to the same URL, signed
the same way under the channel's secret, with the `webhook-id` of the
message on every attempt.
"""

from typing import Any

from fulfillment.outbox.http import Outcome, SendError, request
from fulfillment.webhooks import encode, sign_headers


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
