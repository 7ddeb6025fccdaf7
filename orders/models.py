"""Sales channels, customers, orders, their lines and their timeline."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField
from django_fsm import RETURN_VALUE, FSMField, transition
from simple_history.models import HistoricalRecords

from core.models import BackgroundJob, ProtectedStatusModel, VersionedModel
from inventory.models import Product


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", "Web shop"
        MARKETPLACE = "marketplace", "Marketplace"
        PHONE = "phone", "Phone"
        EMAIL = "email", "E-mail"
        POS = "pos", "Point of sale"
        IMPORT = "import", "CSV import"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.WEB)
    webhook_url = models.URLField(
        blank=True, help_text="Shipping updates are POSTed here when set."
    )
    webhook_secret = models.CharField(
        max_length=128, blank=True, help_text="Signs webhook bodies (HMAC-SHA256)."
    )
    send_customer_emails = models.BooleanField(
        default=True,
        help_text="Turn off for marketplaces that mail their own customers.",
    )
    active = models.BooleanField(default=True)

    class Platform(models.TextChoices):
        GENERIC = "generic", "Generic (our API and signed webhooks)"
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"

    platform = models.CharField(
        max_length=16,
        choices=Platform,
        default=Platform.GENERIC,
        help_text="Which shop software the channel is: it decides how orders "
        "arrive (webhooks in the platform's shape) and how fulfilment and stock "
        "go back (the platform's API, or our signed webhooks for generic).",
    )
    shop_domain = models.CharField(
        max_length=255,
        blank=True,
        help_text="Shopify: the shop's myshopify.com domain (acme.myshopify.com). "
        "WooCommerce: the shop's address (shop.example.com, https assumed).",
    )
    access_token = models.CharField(
        max_length=255,
        blank=True,
        help_text="For calls to the shop's API (write-only). Shopify: the Admin "
        "API access token (shpat_…). WooCommerce: the REST API consumer key and "
        "secret as ck_…:cs_….",
    )
    # Kept apart from webhook_secret: that one signs what is sent to the
    # channel in the Standard Webhooks form (whsec_<base64>), while Shopify and
    # WooCommerce sign what they send with a secret of their own, used as is.
    inbound_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text="Verifies webhooks the shop sends (write-only), used as typed. "
        "Shopify: the app's client secret (or the secret shown under Settings → "
        "Notifications → Webhooks). WooCommerce: the webhook's Secret. Not the "
        "outbound webhook secret above, which signs what is sent to the channel.",
    )
    push_stock = models.BooleanField(
        "push available stock",
        default=False,
        help_text="Tell the shop the available quantity of its SKUs whenever it "
        "changes (Shopify and WooCommerce: the SKUs under Channel listings; "
        "generic: every SKU, as inventory.updated webhooks).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChannelApiKey(models.Model):
    """A key a channel calls the order API with; only its SHA-256 is stored."""

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True, help_text="Who uses it.")
    # The key reads `oms_<prefix>_<secret>`; the prefix finds the row, the hash
    # of the whole key is compared in constant time.
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.channel.code}: {self.name or self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Customer(models.Model):
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    accepts_marketing = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_ci_unique"),
        ]
        indexes = [models.Index(fields=["phone"], name="customer_phone")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    ON_HOLD = "on_hold", "On hold"
    CANCELLED = "cancelled", "Cancelled"


class HoldReason(models.TextChoices):
    ADDRESS_CHECK = "address_check", "Address check"
    PAYMENT = "payment", "Payment"
    FRAUD_REVIEW = "fraud_review", "Fraud review"
    CUSTOMER_REQUEST = "customer_request", "Customer request"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    OTHER = "other", "Other"


S = OrderStatus
HOLDABLE = [S.PENDING, S.ALLOCATED, S.BACKORDERED]
CANCELLABLE = [S.PENDING, S.ALLOCATED, S.BACKORDERED, S.ON_HOLD]
# The shipping address and delivery details may change until the order is packed.
EDITABLE = [S.PENDING, S.ALLOCATED, S.BACKORDERED, S.ON_HOLD, S.PICKING]


class Order(ProtectedStatusModel, VersionedModel):
    class Priority(models.IntegerChoices):
        NORMAL = 0, "Normal"
        HIGH = 1, "High"
        URGENT = 2, "Urgent"

    number = models.CharField(max_length=20, unique=True, editable=False)
    # Indexed through the (channel, external_id) unique constraint.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    external_id = models.CharField(
        "channel reference", max_length=64, help_text="The order's id in its channel."
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="orders"
    )
    status = FSMField(
        max_length=20, choices=OrderStatus, default=OrderStatus.PENDING, protected=True
    )
    hold_reason = models.CharField(max_length=20, choices=HoldReason, blank=True)
    held_from = models.CharField(
        max_length=20, choices=OrderStatus, blank=True, editable=False
    )
    priority = models.PositiveSmallIntegerField(
        choices=Priority, default=Priority.NORMAL
    )

    ship_name = models.CharField("ship-to name", max_length=200)
    ship_company = models.CharField("company", max_length=200, blank=True)
    ship_address1 = models.CharField("address line 1", max_length=200)
    ship_address2 = models.CharField("address line 2", max_length=200, blank=True)
    ship_city = models.CharField("city", max_length=100)
    ship_region = models.CharField("region / state", max_length=100, blank=True)
    ship_postcode = models.CharField("postcode", max_length=20, blank=True)
    ship_country = CountryField("country")
    ship_phone = models.CharField("phone", max_length=40, blank=True)
    shipping_method = models.CharField(max_length=64, blank=True)
    requested_delivery_date = models.DateField(null=True, blank=True)

    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    shipping_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    tax_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    placed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # History is looked up by order (id) and date; no other index is kept, so
    # bulk imports stay fast.
    history = HistoricalRecords(no_db_index=["number", "channel", "customer"])

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="order_channel_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.ON_HOLD) | ~Q(hold_reason=""),
                name="order_on_hold_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "priority", "placed_at"]),
            # The order list: newest first, alone or within a status or channel.
            models.Index(fields=["-placed_at", "-id"], name="order_placed_desc"),
            models.Index(
                fields=["status", "-placed_at", "-id"], name="order_status_placed"
            ),
            models.Index(
                fields=["channel", "-placed_at", "-id"], name="order_channel_placed"
            ),
            models.Index(fields=["external_id"], name="order_external_id"),
            models.Index(fields=["ship_phone"], name="order_ship_phone"),
        ]
        permissions = [
            ("allocate_order", "Can allocate stock to orders"),
            ("fulfil_order", "Can pick, pack, ship and deliver orders"),
            ("hold_order", "Can put orders on hold and release them"),
            ("cancel_order", "Can cancel orders"),
            ("export_order", "Can export orders to CSV/XLSX"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    # Transitions change only this row; orders/services/ does the rest.

    @transition(field=status, source=[S.PENDING, S.BACKORDERED], target=S.ALLOCATED)
    def allocate(self) -> None:
        """Every line is reserved."""

    @transition(field=status, source=[S.PENDING, S.ALLOCATED], target=S.BACKORDERED)
    def backorder(self) -> None:
        """Some line waits for stock."""

    # A backordered order may be picked too: what is reserved ships now, the
    # rest follows when it arrives (partial shipment).
    @transition(field=status, source=[S.ALLOCATED, S.BACKORDERED], target=S.PICKING)
    def start_picking(self) -> None:
        """The order is on a pick list."""

    @transition(field=status, source=S.PICKING, target=S.PACKED)
    def pack(self) -> None:
        """Every parcel is packed."""

    @transition(
        field=status,
        source=[S.PICKING, S.PACKED, S.PARTIALLY_SHIPPED],
        target=S.PARTIALLY_SHIPPED,
    )
    def ship_partially(self) -> None:
        """Some shipments left, others have not."""

    @transition(
        field=status,
        source=[S.PICKING, S.PACKED, S.PARTIALLY_SHIPPED],
        target=S.SHIPPED,
    )
    def ship(self) -> None:
        """Everything has left the building."""

    @transition(field=status, source=S.SHIPPED, target=S.DELIVERED)
    def deliver(self) -> None:
        """The carrier delivered every shipment."""

    @transition(field=status, source=HOLDABLE, target=S.ON_HOLD)
    def hold(self, reason: str) -> None:
        """Stop work on the order until someone releases it."""
        self.held_from = self.status
        self.hold_reason = reason

    @transition(field=status, source=S.ON_HOLD, target=RETURN_VALUE(*HOLDABLE))
    def release(self) -> str:
        """Go back to the state the order was held from."""
        previous = self.held_from or S.PENDING
        self.held_from = ""
        self.hold_reason = ""
        return previous

    @transition(field=status, source=CANCELLABLE, target=S.CANCELLED)
    def cancel(self) -> None:
        """Stop the order for good."""
        self.held_from = ""
        self.hold_reason = ""


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(no_db_index=["order", "product"])

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="orderline_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=models.F("quantity")),
                name="orderline_shipped_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderEvent(models.Model):
    class Kind(models.TextChoices):
        PLACED = "placed", "Placed"
        IMPORTED = "imported", "Imported"
        ALLOCATED = "allocated", "Stock allocated"
        BACKORDERED = "backordered", "Backordered"
        RELEASED_STOCK = "stock_released", "Stock released"
        STATUS = "status", "Status changed"
        HELD = "held", "Put on hold"
        RELEASED = "released", "Released from hold"
        CANCELLED = "cancelled", "Cancelled"
        UPDATED = "updated", "Details changed"
        DOCUMENT = "document", "Document printed"
        SHIPPED = "shipped", "Shipped"
        TRACKING = "tracking", "Tracking update"
        EMAIL = "email", "E-mail sent"
        RETURN = "return", "Return"
        REFUND = "refund", "Refund"
        # What a channel sent that could not be applied (an update after packing).
        CHANNEL = "channel", "Channel message"

    # Indexed through (order, -created_at) below.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind)
    message = models.TextField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["order", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.message}"


class ImportJob(BackgroundJob):
    """One CSV upload: its file, what the preview found, and how the import went."""

    job_noun = "import"
    heavy_fields = ("source",)

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    filename = models.CharField(max_length=255)
    source = models.BinaryField(editable=False)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=16, default="auto")
    partial = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status, default=Status.PREVIEWED)
    stage = models.CharField(max_length=16, blank=True)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("import_orders", "Can import orders from CSV files")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    def lost_message(self, cause: str) -> str:
        cause = cause.format(job=self.job_noun)
        if self.stage == "settling":
            return (
                f"{cause} after the orders were written, while allocating them; "
                "Retry allocates them and queues their e-mails (no order is "
                "imported twice)."
            )
        # The write is one transaction: it is committed whole or not at all.
        stage = {"writing": "writing the orders"}.get(self.stage, "checking the file")
        return f"{cause} while {stage}; nothing was written. Retry runs it again."

    def lost_fields(self, message: str) -> dict:
        return {"result": {**(self.result or {}), "summary": message}}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        # Checking is the first 70% of the work, writing the rest.
        share = self.processed / self.total
        return int(70 * share) if self.stage == "checking" else 70 + int(30 * share)


class CustomerEmail(models.Model):
    """One e-mail to a customer about one event; the key makes it unique."""

    class Kind(models.TextChoices):
        RECEIVED = "order_received", "Order received"
        SHIPPED = "order_shipped", "Shipped"
        DELAYED = "shipment_delayed", "Delayed or problem in transit"
        DELIVERED = "order_delivered", "Delivered"
        CANCELLED = "order_cancelled", "Order cancelled"
        RETURN_APPROVED = "return_approved", "Return approved"
        RETURN_REJECTED = "return_rejected", "Return rejected"
        REFUNDED = "refund_issued", "Refund issued"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # Taken by one worker's batch, not yet handed to the mail server.
        CLAIMED = "claimed", "Claimed by a worker"
        # Being handed to the mail server: the outcome is not known yet.
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=24, choices=Kind)
    key = models.CharField(
        max_length=120,
        unique=True,
        help_text="One e-mail per event: kind, order, subject.",
    )
    to = models.EmailField()
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    # Which worker batch holds the e-mail (claimed or sending), and since when.
    claimed_by = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.to}"


class InboundMessage(models.Model):
    """One order message a channel sent (API call or shop webhook), kept raw.

    Stored before it is answered, then processed by a task: a message that
    failed can be replayed from what was stored.
    """

    class Source(models.TextChoices):
        API = "api", "Order API"
        SHOPIFY = "shopify", "Shopify webhook"
        WOOCOMMERCE = "woocommerce", "WooCommerce webhook"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        # Processed, and it changed nothing: the order it names was there.
        DUPLICATE = "duplicate", "Duplicate"
        IGNORED = "ignored", "Ignored"

    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="inbound_messages"
    )
    source = models.CharField(max_length=16, choices=Source)
    topic = models.CharField(max_length=64)
    delivery_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="The platform's id of this delivery (X-Shopify-Webhook-Id, "
        "X-WC-Webhook-Delivery-ID); a second delivery with it is a duplicate.",
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    # SHA-256 of the body: the same Idempotency-Key with another body is refused.
    body_hash = models.CharField(max_length=64, blank=True, editable=False)
    external_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # What the API answered, given again for the same Idempotency-Key.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "source", "delivery_id"],
                condition=~Q(delivery_id=""),
                name="inbound_delivery_unique",
            ),
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="inbound_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status"),
            models.Index(fields=["-received_at", "-id"], name="inbound_received"),
        ]
        permissions = [("replay_inboundmessage", "Can replay inbound messages")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.topic} #{self.pk}"
