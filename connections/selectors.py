"""Reads of the inbox and the outbox that more than one page asks for (the
dashboard, the health check and the metrics), each served by an index."""

from django.db.models import Min, QuerySet
from django.utils import timezone

from connections.inbox.messages import failed_after_taken_q
from connections.models import InboundMessage, OutboundMessage, OutboxDestination


def inbound_waiting() -> QuerySet[InboundMessage]:
    """Messages stored and not yet processed (the (status, received_at) index)."""
    return InboundMessage.objects.filter(status=InboundMessage.Status.RECEIVED)


def inbound_failed() -> QuerySet[InboundMessage]:
    """Messages that failed after they were taken in (the (status,
    received_at) index)."""
    return InboundMessage.objects.filter(failed_after_taken_q())


def outbound_pending() -> QuerySet[OutboundMessage]:
    """Messages to the shops, channels and customers waiting for their next attempt (the status
    index)."""
    return OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING)


def outbound_failed() -> QuerySet[OutboundMessage]:
    """Messages to the shops, channels and customers that gave up (the
    status index)."""
    return OutboundMessage.objects.filter(status=OutboundMessage.Status.FAILED)


def outbound_destinations_paused() -> QuerySet[OutboxDestination]:
    """Destinations paused now because they did not answer (the mail
    server, a channel's shop or webhook URL)."""
    return OutboxDestination.objects.filter(paused_until__gt=timezone.now())


def inbound_oldest_waiting_age() -> float:
    """Seconds the oldest waiting inbound message has waited (0: none)."""
    first = inbound_waiting().aggregate(first=Min("received_at"))["first"]
    return max(0.0, (timezone.now() - first).total_seconds()) if first else 0.0


def outbound_most_overdue_age() -> float:
    """Seconds the most overdue pending outbound message is past its attempt
    time (0: none overdue), read from the (status, next_attempt_at) index."""
    now = timezone.now()
    first = (
        outbound_pending()
        .filter(next_attempt_at__lte=now)
        .aggregate(first=Min("next_attempt_at"))["first"]
    )
    return max(0.0, (now - first).total_seconds()) if first else 0.0
