"""Pick confirmation's record: every scan a picker made confirming a pick
list (bin, item, short, confirmed), accepted or refused.

Part of the `fulfillment.models` package.
"""

from django.db import models

from fulfillment.models.packstation import ScanRecord


class PickScan(ScanRecord):
    """One scan (or step) confirming a pick list of a location that confirms
    picks. A line of the list is a shipment's order line."""

    class Kind(models.TextChoices):
        BIN = "bin", "Bin"
        ITEM = "item", "Item"
        SHORT = "short", "Short pick"
        CONFIRM = "confirm", "Picks confirmed"

    pick_list = models.ForeignKey(
        "fulfillment.PickList", on_delete=models.CASCADE, related_name="pick_scans"
    )
    kind = models.CharField(max_length=10, choices=Kind)
    bin = models.CharField(max_length=32, blank=True)
    shipment = models.ForeignKey(
        "fulfillment.Shipment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(ScanRecord.Meta):
        indexes = [
            models.Index(fields=["pick_list", "created_at"], name="pickscan_list"),
        ]
