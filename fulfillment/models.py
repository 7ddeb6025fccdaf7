"""Carriers, pick lists, shipments and their lines, tracking, and the print log."""

from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from core.models import BackgroundJob, ProtectedStatusModel, VersionedModel
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
    webhook_token = models.CharField(
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

    @transition(field=status, source=[Status.OPEN, Status.PICKING], target=Status.DONE)
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


S = ShipmentStatus
# A shipment in one of these still holds (claims) its order's reserved stock.
OPEN_STATUSES = [S.PENDING, S.PICKING, S.PACKED]
# The parcel has left the building.
DISPATCHED_STATUSES = [
    S.SHIPPED,
    S.IN_TRANSIT,
    S.OUT_FOR_DELIVERY,
    S.DELIVERED,
    S.EXCEPTION,
]
# On the way: late once past its estimated delivery.
ON_THE_WAY_STATUSES = [S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY]


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
        max_length=20, choices=ShipmentStatus, default=S.PENDING, protected=True
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
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

    @transition(field=status, source=S.PENDING, target=S.PICKING)
    def start_picking(self, pick_list: PickList) -> None:
        """The shipment is on a pick list."""
        self.pick_list = pick_list

    @transition(field=status, source=S.PICKING, target=S.PACKED)
    def pack(self, packages: int, weight_g: int) -> None:
        """Everything is in boxes, weighed."""
        self.packages = packages
        self.weight_g = weight_g

    @transition(field=status, source=S.PACKED, target=S.SHIPPED)
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
        field=status,
        source=[S.SHIPPED, S.EXCEPTION, S.OUT_FOR_DELIVERY],
        target=S.IN_TRANSIT,
    )
    def travel(self) -> None:
        """The carrier reports the parcel on its way."""
        self.exception_reason = ""

    @transition(
        field=status,
        source=[S.SHIPPED, S.IN_TRANSIT, S.EXCEPTION],
        target=S.OUT_FOR_DELIVERY,
    )
    def go_out_for_delivery(self) -> None:
        """The parcel is on the delivery van."""
        self.exception_reason = ""

    @transition(
        field=status,
        source=[S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION],
        target=S.EXCEPTION,
    )
    def report_exception(self, reason: str) -> None:
        """The carrier reports a problem (damage, wrong address, refused)."""
        self.exception_reason = reason

    @transition(
        field=status,
        source=[S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION],
        target=S.DELIVERED,
    )
    def deliver(self, delivered_at) -> None:
        """The customer has the parcel."""
        self.delivered_at = delivered_at
        self.exception_reason = ""

    @transition(field=status, source=OPEN_STATUSES, target=S.CANCELLED)
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


class TrackingEvent(models.Model):
    """What the carrier said about a shipment, and when."""

    class Status(models.TextChoices):
        IN_TRANSIT = "in_transit", "In transit"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Exception"

    class Source(models.TextChoices):
        ADMIN = "admin", "Entered in the admin"
        CSV = "csv", "CSV upload"
        CARRIER = "carrier", "Carrier webhook"
        EASYPOST = "easypost", "EasyPost webhook"

    shipment = models.ForeignKey(
        Shipment, on_delete=models.CASCADE, related_name="tracking_events"
    )
    status = models.CharField(max_length=20, choices=Status)
    exception_reason = models.CharField(
        max_length=12, choices=ExceptionReason, blank=True
    )
    description = models.CharField(max_length=255, blank=True)
    place = models.CharField(max_length=120, blank=True)
    occurred_at = models.DateTimeField()
    estimated_delivery = models.DateField(
        null=True, blank=True, help_text="The carrier's new delivery estimate."
    )
    source = models.CharField(max_length=10, choices=Source, default=Source.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["shipment", "-occurred_at"])]
        constraints = [
            # A carrier that sends the same scan twice changes nothing.
            models.UniqueConstraint(
                fields=["shipment", "status", "occurred_at"],
                name="trackingevent_shipment_status_time_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.get_status_display()}"


class WebhookDelivery(models.Model):
    """One attempt to tell a sales channel about a shipment, and its answer."""

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="+"
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    shipment = models.ForeignKey(
        Shipment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
    )
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    attempt = models.PositiveSmallIntegerField(default=1)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    succeeded = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    # The Standard Webhooks `webhook-id`: the same on every attempt of one
    # message, so the channel can tell a retry from a new update.
    message_id = models.CharField(max_length=64, blank=True)
    # When this attempt is to be followed by another: after a failure, the
    # scheduled retry; while the request is on its way, the moment a sender
    # that died is given up on. Empty when nothing more is planned.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.channel_id} (attempt {self.attempt})"


class DocumentKind(models.TextChoices):
    PICK_LIST = "pick_list", "Pick list"
    PACKING_SLIP = "packing_slip", "Packing slip"
    SHIPPING_LABEL = "shipping_label", "Shipping label"
    RETURN_LABEL = "return_label", "Return label"


class DocumentPrint(models.Model):
    """The document trail: who printed or downloaded which document, when."""

    kind = models.CharField(max_length=20, choices=DocumentKind)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shipments = models.ManyToManyField(
        Shipment, blank=True, related_name="document_prints"
    )
    pick_lists = models.ManyToManyField(
        PickList, blank=True, related_name="document_prints"
    )
    references = models.JSONField(
        default=list, blank=True, help_text="Numbers of the documents printed."
    )
    pages = models.PositiveIntegerField(default=0)
    background = models.BooleanField(
        default=False, help_text="Downloaded from a background print job."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} × {len(self.references)}"


class PrintJob(BackgroundJob):
    """A large batch of documents rendered in the background."""

    job_noun = "print batch"
    heavy_fields = ("pdf", "object_ids")

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=DocumentKind)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    object_ids = models.JSONField(
        default=list, help_text="Primary keys of the shipments or pick lists."
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} batch {self.pk}"

    def lost_message(self, cause: str) -> str:
        return (
            f"{cause.format(job=self.job_noun)} after {self.done} of {self.total} "
            "documents; nothing was printed. Retry renders the batch again."
        )

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)

    @property
    def filename(self) -> str:
        stamp = self.created_at.strftime("%Y%m%d-%H%M") if self.created_at else ""
        return f"{self.kind.replace('_', '-')}s-{stamp}-{self.pk}.pdf"


# ---- the outbox back to the shops (sent by `fulfillment.outbox`)


class OutboundMessage(models.Model):
    """One thing a sales channel must hear, in its platform's own terms.

    Recorded in the transaction of the change it reports, sent afterwards by
    a worker (one bounded request per attempt, retried on a schedule) and
    replayable from the admin. Stock updates (`inventory.updated`) are
    coalesced: at most one waits per channel and SKU, and the quantity is
    read when it is sent, so the shop always gets the newest figure.
    """

    class Kind(models.TextChoices):
        FULFILLMENT_CREATE = "fulfillment.create", "Fulfilment with tracking"
        TRACKING_UPDATE = "fulfillment.tracking_update", "Tracking changed"
        ORDER_COMPLETED = "order.completed", "Order completed"
        ORDER_CREATED = "order.created", "Order created"
        ORDER_CANCELLED = "order.cancelled", "Order cancelled"
        ORDER_REFUNDED = "order.refunded", "Order refunded"
        INVENTORY_UPDATED = "inventory.updated", "Available stock"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer update"

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="+"
    )
    platform = models.CharField(max_length=16)
    kind = models.CharField(max_length=32, choices=Kind)
    # What makes the message one of a kind for its channel: a shipment
    # number, an order or refund number, a SKU for stock.
    dedupe_key = models.CharField(max_length=100)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbound_messages",
    )
    shipment = models.ForeignKey(
        Shipment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
    )
    product = models.ForeignKey(
        "inventory.Product",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    payload = models.JSONField(default=dict, blank=True)
    # The Standard Webhooks `webhook-id` of a generic message: the same on
    # every attempt, so the receiver can tell a retry from a new message.
    message_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=12, choices=Status, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    attempts_left = models.PositiveSmallIntegerField(default=0)
    # Pending: when the next attempt is due. Sending: when a sender that has
    # not answered by then is taken for dead. Otherwise empty.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The shop's id of what was created (a Shopify fulfillment's gid).
    remote_id = models.CharField(max_length=200, blank=True)
    # Stock: the order of pushes per channel and SKU, drawn when sent; the
    # receiver of a generic `inventory.updated` drops a lower one.
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    sent_quantity = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "dedupe_key"],
                condition=~Q(kind="inventory.updated"),
                name="outbound_message_once",
            ),
            # Stock: one update waits per channel and SKU, one is on its way.
            models.UniqueConstraint(
                fields=["channel", "kind", "dedupe_key", "status"],
                condition=Q(
                    kind="inventory.updated", status__in=["pending", "sending"]
                ),
                name="outbound_stock_one_waiting",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbound_due"),
        ]
        permissions = [
            ("replay_outboundmessage", "Can replay messages to the sales channels"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.channel} ({self.dedupe_key})"


class OutboundAttempt(models.Model):
    """One request made for an outbound message, and the shop's answer."""

    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    request = models.CharField(max_length=300, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.message_id} attempt {self.number}"


class ChannelListing(models.Model):
    """Which product a SKU is in a shop, for stock pushes.

    Shopify sets stock on an inventory item at a location; WooCommerce on a
    product. A generic channel needs no listing: it hears every SKU.
    """

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="listings"
    )
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.CASCADE, related_name="listings"
    )
    shopify_inventory_item_id = models.CharField(
        "Shopify inventory item",
        max_length=100,
        blank=True,
        help_text="gid://shopify/InventoryItem/… (or its number).",
    )
    shopify_location_id = models.CharField(
        "Shopify location",
        max_length=100,
        blank=True,
        help_text="gid://shopify/Location/… (or its number) where the stock is set.",
    )
    woocommerce_product_id = models.PositiveBigIntegerField(
        "WooCommerce product id", null=True, blank=True
    )

    class Meta:
        ordering = ["channel", "product"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "product"], name="channel_listing_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} · {self.product}"


# Postage (carrier accounts, parcels, rates, labels, scan forms) lives in its
# own module; importing it here registers its models with this app.
from fulfillment.postage_models import (  # noqa: E402, F401
    Box,
    CarrierAccount,
    ChannelPostage,
    LocationPostage,
    ReturnLabel,
    ScanForm,
    ShipmentPostage,
)
