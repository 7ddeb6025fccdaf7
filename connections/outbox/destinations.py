"""Destinations paused while they are down: a channel's shop API or webhook
URL (`channel:<id>`), the mail server (`email`).

When a destination does not answer (no connection, a timeout, 5xx, 429, the
mail server unreachable), every message to it would fail the same way and
spend an attempt. So the destination is paused instead: its messages wait,
spending nothing, until the pause ends (`retry_delay` of the failures in a
row: 1, 2, 4 … 60 minutes, with jitter), and one message then tries it. The
first answer clears the pause. Paused destinations show in the admin and in
`/health/ready`.
"""

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from connections.models import OutboxDestination
from connections.outbox.rules import EMAIL, retry_delay


def destination_key(*, platform: str, channel_id: int | None) -> str:
    return EMAIL if platform == EMAIL else f"channel:{channel_id}"


def destination_paused_until(key: str, *, now: datetime) -> datetime | None:
    """When the destination's pause ends, or None if it is not paused."""
    until = (
        OutboxDestination.objects.filter(key=key, paused_until__gt=now)
        .values_list("paused_until", flat=True)
        .first()
    )
    return until


def destination_pause(key: str, *, error: str, now: datetime | None = None) -> datetime:
    """Record a failure of the destination and pause it; return until when."""
    now = now or timezone.now()
    destination, created = OutboxDestination.objects.get_or_create(
        key=key, defaults={"failures": 1, "last_error": error[:500]}
    )
    if not created:
        OutboxDestination.objects.filter(pk=destination.pk).update(
            failures=F("failures") + 1, last_error=error[:500]
        )
        destination.refresh_from_db(fields=["failures"])
    until = now + retry_delay(destination.failures)
    OutboxDestination.objects.filter(pk=destination.pk).update(paused_until=until)
    return until


def destination_answered(key: str) -> None:
    """The destination answered: clear its pause and its failures."""
    OutboxDestination.objects.filter(key=key, failures__gt=0).update(
        failures=0, paused_until=None, last_error=""
    )
