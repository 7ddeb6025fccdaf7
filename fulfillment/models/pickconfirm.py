"""Pick confirmation's record: every scan a picker made confirming a pick
list (bin, item, short, confirmed), accepted or refused.

Part of the `fulfillment.models` package.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PickScan(models.Model):
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
    code = models.CharField("scanned", max_length=100, blank=True)
    bin = models.CharField(max_length=32, blank=True)
    shipment = models.ForeignKey(
        "fulfillment.Shipment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    order_line = models.ForeignKey(
        "orders.OrderLine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    quantity = models.PositiveIntegerField(default=0)
    accepted = models.BooleanField(default=True)
    reason = models.CharField(max_length=300, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["pick_list", "created_at"], name="pickscan_list"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code}".strip()
