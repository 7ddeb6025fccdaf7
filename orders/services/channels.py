"""Channel secrets: the key that signs the webhooks sent to a channel.

Outbound webhooks follow the Standard Webhooks spec, whose secrets read
`whsec_<base64 of the key>`. A secret typed as plain text is stored in that
form (its key is its UTF-8 bytes), so one typed before keeps working.
"""

import base64
import binascii
import secrets

from django.db import transaction

from core.users import Actor
from orders.models import Channel

SECRET_PREFIX = "whsec_"


def channel_secret_generate() -> str:
    """Return a new random secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def channel_secret_standard(secret: str) -> str:
    """Return the secret in the `whsec_<base64>` form; raise ValueError when a
    `whsec_` secret is not base64."""
    if not secret.startswith(SECRET_PREFIX):
        return SECRET_PREFIX + base64.b64encode(secret.encode()).decode()
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError(
            "A secret starting with whsec_ must go on with its key in base64."
        )
    return secret


@transaction.atomic
def channel_secret_rotate(*, channel: Channel, actor: Actor) -> str:
    """Give the channel a new webhook secret and return it (to show once)."""
    secret = channel_secret_generate()
    Channel.objects.filter(pk=channel.pk).update(webhook_secret=secret)
    channel.webhook_secret = secret
    return secret
