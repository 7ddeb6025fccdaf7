"""The one outbox: every message to a shop, a channel or a customer, its
attempts, the destinations paused while they are down, and the listings that
map SKUs to shop products (sent by `connections.outbox`).

The tables keep the names they had in the fulfillment app.
"""

from django.db import models
from django.db.models import Q


class OutboundMessage(models.Model):
    """One thing a sales channel or a customer must hear: in the shop's own
    terms, as our signed Standard Webhook (`shipment.*`, `order.*`,
    `inventory.updated` to the channel's webhook URL), or as an e-mail to the
    order's customer (`email.*`, platform `email`).

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
        # E-mails to the order's customer: `email.` + `orders.models.EmailKind`.
        EMAIL_ORDER_RECEIVED = "email.order_received", "E-mail: order received"
        EMAIL_ORDER_SHIPPED = "email.order_shipped", "E-mail: shipped"
        EMAIL_SHIPMENT_DELAYED = "email.shipment_delayed", "E-mail: delayed"
        EMAIL_ORDER_DELIVERED = "email.order_delivered", "E-mail: delivered"
        EMAIL_ORDER_CANCELLED = "email.order_cancelled", "E-mail: order cancelled"
        EMAIL_RETURN_APPROVED = "email.return_approved", "E-mail: return approved"
        EMAIL_RETURN_REJECTED = "email.return_rejected", "E-mail: return rejected"
        EMAIL_REFUND_ISSUED = "email.refund_issued", "E-mail: refund issued"
        EMAIL_DELIVERY_CHANGED = "email.delivery_changed", "E-mail: delivery changed"
        EMAIL_REQUEST_ANSWERED = "email.request_answered", "E-mail: request answered"
        # To the shop's staff: a rule matched orders.
        EMAIL_RULE_MATCHED = "email.rule_matched", "E-mail to staff: rule matched"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        # E-mails: taken by one sender's batch, not yet handed to the mail
        # server (taken over when the lease runs out).
        CLAIMED = "claimed", "Claimed by a sender"
        # Handed over (an e-mail: its outcome unknown until it is marked).
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer update"
        # Its channel is not connected to a shop (a demo channel): parked,
        # not failed; replayed once the channel is connected.
        NOT_CONNECTED = "not_connected", "Not connected"

    # Empty for an e-mail to the shop's staff (a rule's e-mail).
    channel = models.ForeignKey(
        "orders.Channel",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # How it is sent: the shop's API (shopify, woocommerce), our signed
    # webhook (generic) or an e-mail (email).
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
        max_length=16, choices=Status, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    attempts_left = models.PositiveSmallIntegerField(default=0)
    # Pending: when the next attempt is due. Claimed or sending: when a sender
    # that has not answered by then is taken for dead. Otherwise empty.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The shop's id of what was created (a Shopify fulfillment's gid).
    remote_id = models.CharField(max_length=200, blank=True)
    # Stock: the order of pushes per channel and SKU, drawn when sent; the
    # receiver of a generic `inventory.updated` drops a lower one.
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    sent_quantity = models.IntegerField(null=True, blank=True)
    # E-mails: the customer's address, and the subject as it was sent.
    to = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    # The sender's batch holding a claimed or sending e-mail.
    claimed_by = models.CharField(max_length=32, blank=True, editable=False)
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
            models.Index(
                fields=["order"],
                condition=Q(platform="email"),
                name="outbound_email_order",
            ),
        ]
        permissions = [
            ("replay_outboundmessage", "Can replay messages to the sales channels"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} → {self.channel or self.to} ({self.dedupe_key})"
        )


class OutboxDestination(models.Model):
    """A place messages go (a channel's shop or webhook URL, the mail
    server), paused while it is down: its messages wait, spending no
    attempt, until `paused_until`; each failure in a row doubles the pause.
    """

    key = models.CharField(max_length=64, unique=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "connections_outboxdestination"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


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
