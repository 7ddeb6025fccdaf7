"""The one outbox: every message to a shop or channel, its attempts, and the
listings that map SKUs to shop products (sent by `connections.outbox`).

The tables keep the names they had in the fulfillment app.
"""

from django.db import models
from django.db.models import Q


class OutboundMessage(models.Model):
    """One thing a sales channel must hear, in its platform's own terms or as
    our signed Standard Webhook (`shipment.*`, `order.*`, `inventory.updated`
    to the channel's webhook URL).

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
        SHIPMENT_SHIPPED = "shipment.shipped", "Shipment shipped (webhook)"
        SHIPMENT_TRACKING = "shipment.tracking_updated", "Tracking news (webhook)"
        SHIPMENT_DELIVERED = "shipment.delivered", "Shipment delivered (webhook)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer update"

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="+"
    )
    # How it is sent: the shop's API (shopify, woocommerce) or our signed
    # webhook (generic).
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
        "fulfillment.Shipment",
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
        db_table = "fulfillment_outboundmessage"
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
        db_table = "fulfillment_outboundattempt"
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
        db_table = "fulfillment_channellisting"
        ordering = ["channel", "product"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "product"], name="channel_listing_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} · {self.product}"
