"""A test of a channel's connection, asked for on its admin page and made by
a worker (`connections.services.checks`)."""

from django.conf import settings
from django.db import models


class ConnectionCheck(models.Model):
    """One *Test connection*: a read of the shop's API (Shopify's shop query,
    WooCommerce's system status) or a signed `ping` to a generic channel's
    webhook URL, and what came back."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for a worker"
        OK = "ok", "Connected"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.CASCADE, related_name="connection_checks"
    )
    status = models.CharField(max_length=8, choices=Status, default=Status.WAITING)
    # What the shop answered, in a person's words (the shop's name, or why not).
    answer = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["channel", "-requested_at"])]

    def __str__(self) -> str:
        return f"{self.channel} · {self.get_status_display()}"
