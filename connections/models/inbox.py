"""What comes in from the shops: every order message kept raw, and the keys
a channel calls the order API with.

Both tables were made by the orders app and keep their names.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.models import Channel, Order


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
        # It names an order not here yet (a cancellation delivered before the
        # order): kept, and applied when the order arrives.
        EARLY = "early", "Before its order"

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
        db_table = "orders_inboundmessage"
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
        db_table = "orders_channelapikey"
        ordering = ["channel", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.channel.code}: {self.name or self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
