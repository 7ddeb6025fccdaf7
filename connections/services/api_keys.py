"""API keys a channel calls the order API with.

A key reads `oms_<prefix>_<secret>`. Only the SHA-256 of the whole key is
stored; the prefix finds the row and the hashes are compared in constant
time. The key itself is returned once, when it is made.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from connections.models import ChannelApiKey
from orders.exceptions import OrderError
from orders.models import Channel

KEY_PREFIX = "oms_"
# last_used_at is a hint, not a log: written at most this often per key.
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def channel_api_key_create(
    *, channel: Channel, name: str = ""
) -> tuple[ChannelApiKey, str]:
    """Make a new API key for a channel; return the row and the key (shown once)."""
    limit = ChannelApiKey._meta.get_field("name").max_length
    if len(name) > limit:
        raise OrderError(f"The key's name is {len(name)} characters; at most {limit}.")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ChannelApiKey.objects.create(
        channel=channel, name=name, prefix=prefix, key_hash=_hash(key)
    )
    return api_key, key


@transaction.atomic
def channel_api_key_revoke(*, api_key: ChannelApiKey) -> ChannelApiKey:
    """Refuse the key from now on (the row stays, for the record)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def channel_api_key_check(key: str) -> ChannelApiKey | None:
    """Return the active key row a presented key belongs to, or None."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2 or not key.isascii():
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    api_key = (
        ChannelApiKey.objects.select_related("channel").filter(prefix=prefix).first()
    )
    # Hash and compare even without a row, so timing does not tell prefixes apart.
    stored = api_key.key_hash if api_key is not None else "0" * 64
    if not hmac.compare_digest(stored, _hash(key)) or api_key is None:
        return None
    if api_key.revoked_at is not None or not api_key.channel.active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_EVERY:
        ChannelApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
