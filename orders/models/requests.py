"""What customers ask for on their order page when the order has gone too far
for them to do it themselves: a queue for customer service."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from orders.models.orders import Order


class CustomerRequest(models.Model):
    """A change or a cancellation a customer asked for after packing (or
    picking), waiting for a person to handle it."""

    class Kind(models.TextChoices):
        CHANGE_DELIVERY = "change_delivery", "Change delivery"
        CANCEL = "cancel", "Cancel the order"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        DECLINED = "declined", "Declined"

    # Indexed through (order, -created_at) below.
    order = models.ForeignKey(
        Order,
        on_delete=models.CASCADE,
        related_name="customer_requests",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=Kind)
    status = models.CharField(max_length=10, choices=Status, default=Status.OPEN)
    # What the customer wants, in the order's field names (a new address, a
    # date), shown to customer service as is.
    details = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, help_text="The customer's own words.")
    client_address = models.GenericIPAddressField(
        "client IP address", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The answer the customer gets: e-mailed and shown on their order page.
    reply = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "customer request"
        indexes = [
            # The queue and the dashboard count read only the open ones.
            models.Index(
                fields=["created_at"],
                condition=Q(status="open"),
                name="customerrequest_open",
            ),
            models.Index(fields=["order", "-created_at"], name="customerrequest_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · order {self.order_id}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN
