"""The connections' part of the retention prune (core.retention): inbound
messages long applied and outbound messages (e-mails included) long
delivered."""

from datetime import datetime

from django.db.models import Q

from connections.models import InboundMessage, OutboundMessage
from connections.outbox.rules import EMAIL
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
    """Delete outbound messages delivered (or superseded) before their
    period, with their attempt log: customer e-mails after
    OMS_RETENTION_EMAIL_DAYS (the order's timeline still says they were
    sent), every other message after OMS_RETENTION_OUTBOX_DAYS. Failed ones
    stay, replayable."""
    Status = OutboundMessage.Status
    pruned = 0
    for setting, messages in (
        ("OMS_RETENTION_OUTBOX_DAYS", OutboundMessage.objects.exclude(platform=EMAIL)),
        ("OMS_RETENTION_EMAIL_DAYS", OutboundMessage.objects.filter(platform=EMAIL)),
    ):
        cutoff = retention_cutoff(now=now, setting=setting)
        if cutoff is None:
            continue
        pruned += rows_prune(
            messages.filter(
                Q(status=Status.SENT, sent_at__lt=cutoff)
                | Q(status=Status.SUPERSEDED, updated_at__lt=cutoff)
            )
        )
    return pruned
