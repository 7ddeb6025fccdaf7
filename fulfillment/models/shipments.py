"""Carriers, pick lists, shipments and their lines."""

from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.encryption import EncryptedTextField
from core.models import ProtectedStatusModel, VersionedModel
from core.tally_triggers import NO_ESTIMATE, tally_triggers
from inventory.models import Location


class Carrier(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    tracking_url_template = models.CharField(
        "tracking URL template",
        max_length=300,
        blank=True,
        help_text="Where customers follow a parcel; {tracking} stands for the "
        "tracking number, e.g. https://track.example/{tracking}.",
    )
    services = models.CharField(
        max_length=300,
        blank=True,
        help_text="Service levels offered, separated by commas (e.g. 'Ground, "
        "Express'). Empty accepts any service name.",
    )
    active = models.BooleanField(default=True)
    webhook_token = EncryptedTextField(
        "tracking webhook token",
        max_length=128,
        blank=True,
        help_text="The carrier proves its tracking updates with this token (a "
        "Bearer token, the password of basic auth, or EasyPost's webhook secret). "
        "Empty refuses every update from the carrier.",
    )
    aggregator = models.BooleanField(
        "tracking aggregator",
        default=False,
        help_text="A tracking service (e.g. EasyPost) that reports on parcels of "
        "every carrier, not only its own.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        template = self.tracking_url_template
        if template and (
            "{tracking}" not in template
            or not template.startswith(("https://", "http://"))
        ):
            raise ValidationError(
                {
                    "tracking_url_template": "Give an http(s) address that "
                    "contains {tracking}, e.g. https://track.example/{tracking}."
                }
            )

    @property
    def service_list(self) -> list[str]:
        return [s.strip() for s in self.services.split(",") if s.strip()]

    def tracking_url(self, tracking_number: str) -> str:
        """Return the public tracking page of a parcel, or "" when unknown."""
        if not self.tracking_url_template or not tracking_number:
            return ""
        return self.tracking_url_template.replace(
            "{tracking}", quote(tracking_number, safe="")
        )


class PickList(ProtectedStatusModel):
    """A wave of shipments picked together at one location."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PICKING = "picking", "Picking"
        PICKED = "picked", "Picked"
        DONE = "done", "Done"

    number = models.CharField(max_length=20, unique=True, editable=False)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="pick_lists"
    )
    status = FSMField(
        max_length=10, choices=Status, default=Status.OPEN, protected=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number

    @transition(field=status, source=Status.OPEN, target=Status.PICKING)
    def start(self) -> None:
        """The sheet is printed and a picker walks the bins."""

    @transition(
        field=status, source=[Status.OPEN, Status.PICKING], target=Status.PICKED
    )
    def confirm_picked(self) -> None:
        """Every unit on the list is scanned picked or short and confirmed."""

    @transition(
        field=status,
        source=[Status.OPEN, Status.PICKING, Status.PICKED],
        target=Status.DONE,
    )
    def finish(self) -> None:
        """Every shipment on the list is packed (or no longer needs picking)."""


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    CANCELLED = "cancelled", "Cancelled"


class ExceptionReason(models.TextChoices):
    """What went wrong in transit."""

    ADDRESS = "address", "Address problem"
    DAMAGED = "damaged", "Damaged"
    DELAYED = "delayed", "Delayed"
    LOST = "lost", "Lost"
    RETURNED = "returned", "Returned to sender"
    PICKUP = "pickup", "Waiting at a pickup point"
    OTHER = "other", "Other problem"


# A shipment in one of these still holds (claims) its order's reserved stock.
OPEN_STATUSES = [ShipmentStatus.PENDING, ShipmentStatus.PICKING, ShipmentStatus.PACKED]
# The parcel has left the building.
DISPATCHED_STATUSES = [
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED,
    ShipmentStatus.EXCEPTION,
]
# On the way: late once past its estimated delivery.
ON_THE_WAY_STATUSES = [
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
]


class Shipment(ProtectedStatusModel, VersionedModel):
    """One parcel group of an order, leaving from one location."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    # A lazy reference keeps the import graph one way: fulfillment -> orders.
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="shipments"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="shipments"
    )
    status = FSMField(
        max_length=20,
        choices=ShipmentStatus,
        default=ShipmentStatus.PENDING,
        protected=True,
    )
    pick_list = models.ForeignKey(
        PickList,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    carrier = models.ForeignKey(
        Carrier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    service = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    packages = models.PositiveSmallIntegerField(default=1)
    weight_g = models.PositiveIntegerField("weight (g)", null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    exception_reason = models.CharField(
        max_length=12, choices=ExceptionReason, blank=True
    )
    # A label voided while the carrier had the parcel: what went wrong and
    # when it was found (the dashboard counts them until a person clears it).
    label_warning = models.CharField(_("label warning"), max_length=500, blank=True)
    label_warning_at = models.DateTimeField(
        _("label warning since"), null=True, blank=True
    )
    # The tracking number of the label last voided: a scan of it after the
    # void still finds the shipment (the parcel left on a refunded label).
    voided_tracking_number = models.CharField(
        _("voided tracking number"), max_length=64, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The dashboard's late and exception counts (oms.tallies): by status
        # and estimated delivery, into oms.models.ShipmentTallyChange.
        triggers = tally_triggers(
            name="shipment_tally",
            changes="oms_shipmenttallychange",
            keys={
                "status": "{row}.status",
                "estimated_delivery": "COALESCE({row}.estimated_delivery, "
                f"DATE '{NO_ESTIMATE.isoformat()}')",
            },
        )
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipment_carrier_tracking_unique",
            ),
            models.CheckConstraint(
                condition=Q(packages__gt=0), name="shipment_packages_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "location"]),
            # The late and exception lists (admin filters, dashboard).
            models.Index(
                fields=["status", "estimated_delivery"], name="shipment_status_eta"
            ),
            # The shipment list: newest first, alone or within a status.
            models.Index(fields=["-created_at", "-id"], name="shipment_created_desc"),
            # The dashboard's count of labels voided under a travelling parcel.
            models.Index(
                fields=["label_warning_at"],
                condition=Q(label_warning_at__isnull=False),
                name="shipment_label_warning",
            ),
            # A scan of a voided label finds its shipment.
            models.Index(
                fields=["voided_tracking_number"],
                condition=~Q(voided_tracking_number=""),
                name="shipment_voided_tracking",
            ),
            models.Index(
                fields=["status", "-created_at", "-id"], name="shipment_status_created"
            ),
        ]
        permissions = [
            (
                "fulfil_shipment",
                "Can create pick lists, pack, ship and deliver shipments",
            ),
            (
                "print_documents",
                "Can print pick lists, packing slips and shipping labels",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number) if self.carrier else ""

    @property
    def weight_kg(self) -> str:
        return "" if self.weight_g is None else f"{self.weight_g / 1000:.2f}"

    # Transitions change only this row; fulfillment.services does the rest.

    @transition(
        field=status, source=ShipmentStatus.PENDING, target=ShipmentStatus.PICKING
    )
    def start_picking(self, pick_list: PickList) -> None:
        """The shipment is on a pick list."""
        self.pick_list = pick_list

    @transition(
        field=status, source=ShipmentStatus.PICKING, target=ShipmentStatus.PACKED
    )
    def pack(self, packages: int, weight_g: int) -> None:
        """Everything is in boxes, weighed."""
        self.packages = packages
        self.weight_g = weight_g

    @transition(
        field=status, source=ShipmentStatus.PACKED, target=ShipmentStatus.SHIPPED
    )
    def ship(
        self,
        carrier: Carrier | None,
        service: str,
        tracking_number: str,
        shipped_at,
        estimated_delivery=None,
    ) -> None:
        """Handed to the carrier."""
        self.carrier = carrier
        self.service = service
        self.tracking_number = tracking_number
        self.shipped_at = shipped_at
        self.estimated_delivery = estimated_delivery

    @transition(
        field=status, source=ShipmentStatus.SHIPPED, target=ShipmentStatus.PACKED
    )
    def unship(self) -> None:
        """Not handed over after all (its label was voided): packed again."""
        self.carrier = None
        self.service = ""
        self.tracking_number = ""
        self.shipped_at = None
        self.estimated_delivery = None

    @transition(
        field=status,
        source=[
            ShipmentStatus.SHIPPED,
            ShipmentStatus.EXCEPTION,
            ShipmentStatus.OUT_FOR_DELIVERY,
        ],
        target=ShipmentStatus.IN_TRANSIT,
    )
    def travel(self) -> None:
        """The carrier reports the parcel on its way."""
        self.exception_reason = ""

    @transition(
        field=status,
        source=[
            ShipmentStatus.SHIPPED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.EXCEPTION,
        ],
        target=ShipmentStatus.OUT_FOR_DELIVERY,
    )
    def go_out_for_delivery(self) -> None:
        """The parcel is on the delivery van."""
        self.exception_reason = ""

    @transition(
        field=status,
        source=[
            ShipmentStatus.SHIPPED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.EXCEPTION,
        ],
        target=ShipmentStatus.EXCEPTION,
    )
    def report_exception(self, reason: str) -> None:
        """The carrier reports a problem (damage, wrong address, refused)."""
        self.exception_reason = reason

    @transition(
        field=status,
        source=[
            ShipmentStatus.SHIPPED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.EXCEPTION,
        ],
        target=ShipmentStatus.DELIVERED,
    )
    def deliver(self, delivered_at) -> None:
        """The customer has the parcel."""
        self.delivered_at = delivered_at
        self.exception_reason = ""

    @transition(field=status, source=OPEN_STATUSES, target=ShipmentStatus.CANCELLED)
    def cancel(self) -> None:
        """The shipment will not leave; its lines go back to the order."""


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(
        Shipment, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["shipment", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "order_line"],
                name="shipmentline_shipment_line_unique",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"
