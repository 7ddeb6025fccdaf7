"""What carriers say about shipments, and what channels were told."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from fulfillment.models.shipments import ExceptionReason, Shipment


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
    # Dated further ahead of its arrival than OMS_TRACKING_CLOCK_TOLERANCE
    # (a local time sent as UTC): kept as sent, flagged, and ordered by its
    # arrival (a scan cannot have happened after it reached us).
    dated_ahead = models.BooleanField(
        _("dated ahead"),
        default=False,
        help_text=_(
            "The carrier dated this scan after it reached us; it is ordered by "
            "the time it arrived."
        ),
    )
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
    """One attempt to tell a sales channel about a shipment, and its answer.

    Read-only history: shipment webhooks are outbox messages now
    (`connections.outbox.shipments`); this log keeps the attempts made
    before, and nothing writes to it any more.
    """

    # Attempts the old pipeline made at most per message.
    MAX_ATTEMPTS = 6

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
