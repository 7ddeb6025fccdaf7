"""Import jobs, and the kinds of e-mail a customer gets: what came in by file
and what goes out."""

from django.conf import settings
from django.db import models

from core.files import PrivateFileField
from core.models import BackgroundJob
from orders.models.channels import Channel


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
    # The uploaded file, in the storage (core.files); NULL once pruned.
    source = PrivateFileField(upload_to="imports/%Y/%m/")
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


class EmailKind(models.TextChoices):
    """What an e-mail to the order's customer is about (its templates are
    `emails/<kind>_subject.txt`, `.txt` and `.html`). The e-mails themselves
    are messages of the one outbox (`connections.OutboundMessage`, kind
    `email.<kind>`), queued through `orders.emails.customer_email_queue`."""

    RECEIVED = "order_received", "Order received"
    SHIPPED = "order_shipped", "Shipped"
    DELAYED = "shipment_delayed", "Delayed or problem in transit"
    DELIVERED = "order_delivered", "Delivered"
    CANCELLED = "order_cancelled", "Order cancelled"
    RETURN_APPROVED = "return_approved", "Return approved"
    RETURN_REJECTED = "return_rejected", "Return rejected"
    REFUNDED = "refund_issued", "Refund issued"
    DELIVERY_CHANGED = "delivery_changed", "Delivery changed"
    REQUEST_ANSWERED = "request_answered", "Request answered"
