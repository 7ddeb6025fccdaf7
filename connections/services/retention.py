"""The connections' part of the retention prune (core.retention): inbound
messages long applied and outbound messages long delivered."""

from datetime import datetime

from django.db.models import Q

from connections.models import InboundMessage, OutboundMessage
from core.retention import retention_cutoff, rows_prune

INBOX_DONE = (
    InboundMessage.Status.PROCESSED,
    InboundMessage.Status.DUPLICATE,
    InboundMessage.Status.IGNORED,
)


def inbox_prune(*, now: datetime) -> int:
    """Delete inbound messages applied (or found duplicate, or ignored) before
    OMS_RETENTION_INBOX_DAYS. Failed and early ones stay for a person or their
    order. A shop redelivering an older message is still recognised by its
    order's (channel, external id)."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_INBOX_DAYS")
    if cutoff is None:
        return 0
    return rows_prune(
        InboundMessage.objects.filter(status__in=INBOX_DONE, processed_at__lt=cutoff)
    )


def outbox_prune(*, now: datetime) -> int:
    """Delete outbound messages delivered (or superseded) before
    OMS_RETENTION_OUTBOX_DAYS, with their attempt log. Failed ones stay,
    replayable."""
    cutoff = retention_cutoff(now=now, setting="OMS_RETENTION_OUTBOX_DAYS")
    if cutoff is None:
        return 0
    Status = OutboundMessage.Status
    return rows_prune(
        OutboundMessage.objects.filter(
            Q(status=Status.SENT, sent_at__lt=cutoff)
            | Q(status=Status.SUPERSEDED, updated_at__lt=cutoff)
        )
    )
