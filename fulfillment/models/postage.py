"""Postage records: carrier accounts, each location's postage settings and
boxes, a shipment's parcel, rates and bought label, end-of-day scan forms,
return labels bought for a return, and each channel's return-label setting.

Part of the `fulfillment.models` package.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.encryption import EncryptedTextField
from core.files import PrivateFileField
from orders.models import RatePreference


class CarrierAccount(models.Model):
    """How postage for a carrier is had: typed by hand, or bought through
    EasyPost with the account's API key."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "Manual (our label, typed tracking number)"
        EASYPOST = "easypost", "Bought through EasyPost"

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        PRODUCTION = "production", "Production"

    carrier = models.OneToOneField(
        "fulfillment.Carrier", on_delete=models.CASCADE, related_name="account"
    )
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.MANUAL)
    mode = models.CharField(max_length=10, choices=Mode, default=Mode.TEST)
    # Write-only: the admin never shows it back.
    api_key = EncryptedTextField("EasyPost API key", max_length=200, blank=True)
    carrier_account_ids = models.CharField(
        "EasyPost carrier accounts",
        max_length=500,
        blank=True,
        help_text="The EasyPost carrier account ids (ca_…) rates may come from, "
        "separated by commas. Empty allows every account of the key.",
    )
    verify_addresses = models.BooleanField(
        "check addresses",
        default=False,
        help_text="Verify the ship-to through EasyPost before buying; a failed "
        "check puts the order on hold (address check).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["carrier__name"]

    def __str__(self) -> str:
        return f"{self.carrier} · {self.get_kind_display()}"

    def clean(self) -> None:
        if self.kind != self.Kind.EASYPOST:
            return
        if not self.api_key:
            raise ValidationError({"api_key": "Give the EasyPost API key."})
        expected = "EZTK" if self.mode == self.Mode.TEST else "EZAK"
        if not self.api_key.startswith(expected):
            raise ValidationError(
                {
                    "api_key": f"A {self.get_mode_display().lower()} key starts "
                    f"with {expected}; check the key or the mode."
                }
            )
        bad = [i for i in self.account_id_list if not i.startswith("ca_")]
        if bad:
            raise ValidationError(
                {
                    "carrier_account_ids": "EasyPost carrier account ids start "
                    "with ca_: " + ", ".join(bad) + "."
                }
            )

    @property
    def is_easypost(self) -> bool:
        return self.kind == self.Kind.EASYPOST and bool(self.api_key)

    @property
    def account_id_list(self) -> list[str]:
        return [i.strip() for i in self.carrier_account_ids.split(",") if i.strip()]


class LabelFormat(models.TextChoices):
    """The label format a location asks EasyPost for."""

    PDF = "PDF", "PDF (4×6 in)"
    ZPL = "ZPL", "ZPL (thermal printer)"


class LabelFileFormat(models.TextChoices):
    """The format of a label file as EasyPost sent it, read from its bytes
    (an account or carrier may ignore the format asked for)."""

    PDF = "PDF", "PDF"
    PNG = "PNG", "PNG image"
    ZPL = "ZPL", "ZPL"


class RateChoice(models.TextChoices):
    """A location's rate preference: the orders' `RatePreference` (a rule may
    set one on an order), or a person picks."""

    NONE = "", "A person picks the rate"
    CHEAPEST = RatePreference.CHEAPEST.value, RatePreference.CHEAPEST.label
    CHEAPEST_BY_DATE = (
        RatePreference.CHEAPEST_BY_DATE.value,
        RatePreference.CHEAPEST_BY_DATE.label,
    )
    PREFERRED_CARRIERS = (
        RatePreference.PREFERRED_CARRIERS.value,
        RatePreference.PREFERRED_CARRIERS.label,
    )


class LocationPostage(models.Model):
    """A location's postage settings: where parcels leave from (the address
    EasyPost needs), how a rate is picked, and the label format."""

    location = models.OneToOneField(
        "inventory.Location", on_delete=models.CASCADE, related_name="postage"
    )
    carrier = models.ForeignKey(
        "fulfillment.Carrier",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The EasyPost carrier account rates are fetched from when a "
        "shipment of this location is packed.",
    )
    company = models.CharField(max_length=100, blank=True)
    street1 = models.CharField("street", max_length=100)
    street2 = models.CharField("street (2)", max_length=100, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100, blank=True)
    zip = models.CharField("postcode", max_length=20)
    phone = models.CharField(max_length=40, blank=True)
    rate_choice = models.CharField(
        "rate preference", max_length=10, choices=RateChoice, blank=True
    )
    preferred_carriers = models.CharField(
        max_length=200,
        blank=True,
        help_text="EasyPost carrier names (e.g. 'USPS, UPS'), for the preferred "
        "carriers preference.",
    )
    label_format = models.CharField(
        max_length=3, choices=LabelFormat, default=LabelFormat.PDF
    )

    class Meta:
        verbose_name = "location postage settings"
        verbose_name_plural = "location postage settings"

    def __str__(self) -> str:
        return f"Postage of {self.location}"

    @property
    def preferred_carrier_list(self) -> list[str]:
        return [
            c.strip().lower() for c in self.preferred_carriers.split(",") if c.strip()
        ]


class Box(models.Model):
    """A carton a location packs into."""

    location = models.ForeignKey(
        "inventory.Location", on_delete=models.CASCADE, related_name="boxes"
    )
    name = models.CharField(max_length=50)
    length_mm = models.PositiveIntegerField("length (mm)")
    width_mm = models.PositiveIntegerField("width (mm)")
    height_mm = models.PositiveIntegerField("height (mm)")
    weight_g = models.PositiveIntegerField("empty weight (g)", default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "length_mm", "width_mm", "height_mm"]
        verbose_name_plural = "boxes"
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"], name="box_location_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(length_mm__gt=0, width_mm__gt=0, height_mm__gt=0),
                name="box_dimensions_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.length_mm}×{self.width_mm}×{self.height_mm} mm)"

    @property
    def volume(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm


class ScanForm(models.Model):
    """An end-of-day form (EasyPost ScanForm) for a location's shipments of a
    day with one carrier."""

    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="scan_forms"
    )
    carrier = models.ForeignKey(
        "fulfillment.Carrier", on_delete=models.PROTECT, related_name="scan_forms"
    )
    day = models.DateField()
    label_carrier = models.CharField(
        "carrier of the labels",
        max_length=64,
        blank=True,
        help_text="The carrier EasyPost bought the labels from (one form each).",
    )
    easypost_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, blank=True)
    form_url = models.URLField(max_length=500, blank=True)
    form_file = PrivateFileField(upload_to="scan-forms/%Y/%m/")
    tracking_codes = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]

    def __str__(self) -> str:
        return f"Scan form {self.location.code} {self.label_carrier} {self.day}"


class ShipmentPostage(models.Model):
    """A shipment's parcel, its rates and the label bought for it.

    `reference` is what EasyPost knows the shipment by; with
    `easypost_shipment_id` it lets a retry look the purchase up before
    buying again.
    """

    class Status(models.TextChoices):
        NEW = "new", "Parcel measured"
        RATED = "rated", "Rates fetched"
        BUYING = "buying", "Buying"
        BOUGHT = "bought", "Label bought"
        VOIDING = "voiding", "Voiding"
        VOIDED = "voided", "Label voided"

    class Refund(models.TextChoices):
        """EasyPost's refund status of a voided label."""

        SUBMITTED = "submitted", "Refund submitted"
        REFUNDED = "refunded", "Refunded"
        REJECTED = "rejected", "Refund rejected"
        NOT_APPLICABLE = "not_applicable", "No refund due"

    shipment = models.OneToOneField(
        "fulfillment.Shipment", on_delete=models.CASCADE, related_name="postage"
    )
    carrier = models.ForeignKey(
        "fulfillment.Carrier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    box = models.ForeignKey(
        Box, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    length_mm = models.PositiveIntegerField("length (mm)", null=True, blank=True)
    width_mm = models.PositiveIntegerField("width (mm)", null=True, blank=True)
    height_mm = models.PositiveIntegerField("height (mm)", null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.NEW)
    reference = models.CharField(max_length=64, blank=True)
    purchases = models.PositiveSmallIntegerField(
        default=0, help_text="Labels bought for the shipment, voided ones included."
    )
    easypost_shipment_id = models.CharField(max_length=64, blank=True, db_index=True)
    rates = models.JSONField(default=list, blank=True)
    rates_at = models.DateTimeField(null=True, blank=True)
    rate_id = models.CharField("chosen rate", max_length=64, blank=True)
    buying_since = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    tracking_code = models.CharField(max_length=64, blank=True)
    label_carrier = models.CharField(max_length=64, blank=True)
    label_service = models.CharField(max_length=64, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    label_format = models.CharField(
        max_length=3,
        choices=LabelFileFormat,
        blank=True,
        help_text="The format of the label file EasyPost sent, read from its "
        "bytes; empty when it is none of PDF, PNG or ZPL.",
    )
    label_format_asked = models.CharField(
        "label format asked",
        max_length=3,
        choices=LabelFormat,
        blank=True,
        help_text="The format asked of EasyPost (the location's preference when "
        "the rates were fetched).",
    )
    label_url = models.URLField(max_length=500, blank=True)
    label_file = PrivateFileField(upload_to="labels/%Y/%m/")
    tracker_id = models.CharField(max_length=64, blank=True)
    bought_at = models.DateTimeField(null=True, blank=True)
    refund_status = models.CharField(max_length=20, choices=Refund, blank=True)
    voiding_since = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    scan_form = models.ForeignKey(
        ScanForm,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postages",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "shipment postage"
        verbose_name_plural = "shipment postage"
        indexes = [models.Index(fields=["status", "bought_at"])]

    def __str__(self) -> str:
        return f"Postage of {self.shipment_id}"

    @property
    def dimensions_mm(self) -> tuple[int, int, int] | None:
        if self.length_mm and self.width_mm and self.height_mm:
            return (self.length_mm, self.width_mm, self.height_mm)
        return None

    def rate(self, rate_id: str) -> dict | None:
        return next((r for r in self.rates if r.get("id") == rate_id), None)


class ChannelPostage(models.Model):
    """A channel's postage setting: return labels bought through EasyPost."""

    channel = models.OneToOneField(
        "orders.Channel", on_delete=models.CASCADE, related_name="postage"
    )
    return_carrier = models.ForeignKey(
        "fulfillment.Carrier",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Approving a return buys a prepaid return label through this "
        "EasyPost carrier account. Empty: our own drawn return label.",
    )

    class Meta:
        verbose_name = "channel postage settings"
        verbose_name_plural = "channel postage settings"

    def __str__(self) -> str:
        return f"Postage of {self.channel}"


class ReturnLabel(models.Model):
    """A prepaid return label bought through EasyPost for a return (RMA).

    Created when the return is approved; a worker buys it after the approval
    commits (`fulfillment.postage.returns`). `reference` (the return number)
    and `easypost_shipment_id` let a retry look the purchase up first."""

    class Status(models.TextChoices):
        PENDING = "pending", "To buy"
        BUYING = "buying", "Buying"
        BOUGHT = "bought", "Bought"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="return_labels"
    )
    return_number = models.CharField(max_length=20, unique=True)
    carrier = models.ForeignKey(
        "fulfillment.Carrier", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    buying_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    easypost_shipment_id = models.CharField(max_length=64, blank=True)
    tracking_code = models.CharField(max_length=64, blank=True)
    label_carrier = models.CharField(max_length=64, blank=True)
    label_service = models.CharField(max_length=64, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    label_file = PrivateFileField(upload_to="return-labels/%Y/%m/")
    error = models.CharField(max_length=500, blank=True)
    bought_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Return label {self.return_number}"
