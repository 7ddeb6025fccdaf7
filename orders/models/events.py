"""The order's timeline."""

from django.conf import settings
from django.db import models

from orders.models.orders import Order


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
        RULE = "rule", "Rule applied"
        RULE_FAILED = "rule_failed", "Rule failed"

    # Indexed through (order, -created_at) below. No database foreign key:
    # timeline rows are written in bulk (an import writes one per order and
    # step, and one per applied rule: a hundred thousand at a time), always
    # in the transaction that writes or locks their order, and deleted with
    # it by Django's cascade. PostgreSQL's check, a lookup and a row lock of
    # the order per row at commit, cost as much as writing the rows: with
    # these keys and the tags' (bench_import --foreign-keys, 100k lines, 20
    # intake rules) the import took 14-15 % more CPU, 19-21 % more time.
    order = models.ForeignKey(
        Order,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
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
