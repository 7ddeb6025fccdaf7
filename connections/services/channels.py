"""Connecting a channel to its shop: platform, domain and the secrets."""

from django.db import transaction

from connections.locks import lock_channel_by_code
from core.admin_choices import filter_choices_forget
from core.limits import model_value_problem
from orders.exceptions import OrderError
from orders.models import Channel

Platform = Channel.Platform


@transaction.atomic
def channel_connect(
    *,
    code: str,
    platform: str,
    shop_domain: str | None = None,
    access_token: str | None = None,
    inbound_secret: str | None = None,
    name: str | None = None,
) -> tuple[Channel, bool]:
    """Set a channel up for its shop (making it when new); return it and
    whether it was made. Values left None keep what the channel has."""
    if platform not in Platform.values:
        raise OrderError(
            f"{platform!r} is not a platform; use one of: {', '.join(Platform.values)}."
        )
    values = {
        "platform": platform,
        "shop_domain": _domain(shop_domain) if shop_domain is not None else None,
        "access_token": access_token.strip() if access_token is not None else None,
        "inbound_secret": inbound_secret.strip()
        if inbound_secret is not None
        else None,
        "name": name.strip() if name is not None else None,
    }
    values = {field: value for field, value in values.items() if value is not None}
    for field, value in {"code": code, **values}.items():
        if message := model_value_problem(Channel, field, value):
            raise OrderError(f"{field}: {message}")
    channel = lock_channel_by_code(code)
    created = channel is None
    if created:
        channel = Channel(code=code, name=values.pop("name", code))
    for field, value in values.items():
        setattr(channel, field, value)
    channel.save()
    filter_choices_forget()  # the channel filter offers channels by name
    return channel, created


def _domain(text: str) -> str:
    """Return a shop's domain without scheme, path or trailing slash."""
    text = text.strip()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    return text.split("/", 1)[0].lower()
