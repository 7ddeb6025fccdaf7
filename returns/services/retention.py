"""Labels kept as long as a return or a claim can need them, then pruned
(core.retention).

A bought shipping label's file is kept until the later of the channel's
return window and OMS_RETENTION_CLAIM_DAYS (a carrier claim for loss or
damage) has passed since the shipment was delivered (shipped, when no
delivery was recorded), and for as long as its order has a return that is
not finished. A prepaid return label is kept while its return is open, and
for OMS_RETENTION_CLAIM_DAYS after it was bought.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from core.retention import files_prune
from fulfillment.models import ReturnLabel, ShipmentPostage
from orders.models import Channel
from returns.models import ReturnRequest, ReturnStatus

FINISHED = (
    ReturnStatus.REJECTED,
    ReturnStatus.REFUNDED,
    ReturnStatus.EXCHANGED,
    ReturnStatus.CLOSED,
)


def _open_returns():
    return ReturnRequest.objects.exclude(status__in=FINISHED)


def shipment_labels_prune(*, now: datetime) -> int:
    """Drop the files of bought labels no return or claim can need any more."""
    claim_days = settings.OMS_RETENTION_CLAIM_DAYS
    if not claim_days:
        return 0
    dropped = 0
    windows = Channel.objects.values_list("return_window_days", flat=True).distinct()
    for window in sorted(set(windows)):
        cutoff = now - timedelta(days=max(window, claim_days))
        ended = Q(shipment__delivered_at__lt=cutoff) | Q(
            shipment__delivered_at__isnull=True, shipment__shipped_at__lt=cutoff
        )
        dropped += files_prune(
            ShipmentPostage.objects.filter(
                ended,
                status=ShipmentPostage.Status.BOUGHT,
                shipment__order__channel__return_window_days=window,
            ).exclude(shipment__order__returns__in=_open_returns()),
            field="label_file",
        )
    return dropped


def return_labels_prune(*, now: datetime) -> int:
    """Drop the files of prepaid return labels whose return is finished and
    that were bought before OMS_RETENTION_CLAIM_DAYS."""
    claim_days = settings.OMS_RETENTION_CLAIM_DAYS
    if not claim_days:
        return 0
    open_numbers = _open_returns().values("number")
    return files_prune(
        ReturnLabel.objects.filter(
            bought_at__lt=now - timedelta(days=claim_days)
        ).exclude(return_number__in=open_numbers),
        field="label_file",
    )
