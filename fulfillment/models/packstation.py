"""The pack station's records: which station has a shipment open (the
claim), and every scan made on a shipment (the record kept with it).

Part of the `fulfillment.models` package.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PackClaim(models.Model):
    """A shipment open at one pack station; another station takes it over
    explicitly. The admin's Fulfilment › Pack station page lives on this model."""

    shipment = models.OneToOneField(
        "fulfillment.Shipment", on_delete=models.CASCADE, related_name="pack_claim"
    )
    station = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "pack station"
        verbose_name_plural = "pack station"

    def __str__(self) -> str:
        return f"Shipment {self.shipment_id} at station {self.station}"


class ScanRecord(models.Model):
    """What every scan record keeps (pack station, pick confirmation): what was
    scanned, the line and units it counted, accepted or refused and why, who
    and when."""

    code = models.CharField("scanned", max_length=100, blank=True)
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
        abstract = True
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code}".strip()


class PackScan(ScanRecord):
    """One scan at the pack station (or a step it took), accepted or refused."""

    class Kind(models.TextChoices):
        OPEN = "open", "Shipment opened"
        TAKE_OVER = "take_over", "Taken over"
        ITEM = "item", "Item"
        MISSING = "missing", "Item missing (ship short)"
        UNSHORT = "unshort", "Ship-short undone"
        PACK = "pack", "Packed"

    shipment = models.ForeignKey(
        "fulfillment.Shipment", on_delete=models.CASCADE, related_name="pack_scans"
    )
    kind = models.CharField(max_length=10, choices=Kind)
    station = models.CharField(max_length=64, blank=True)

    class Meta(ScanRecord.Meta):
        indexes = [
            models.Index(fields=["shipment", "created_at"], name="packscan_shipment"),
            # The dashboard: today's packs and refused scans, per packer.
            models.Index(
                fields=["created_at", "user"],
                name="packscan_packs_refused",
                condition=Q(kind="pack") | Q(accepted=False),
            ),
        ]
