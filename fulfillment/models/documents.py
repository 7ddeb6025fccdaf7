"""The print log and background print batches."""

from django.conf import settings
from django.db import models

from core.files import PrivateFileField
from core.models import BackgroundJob
from fulfillment.models.shipments import PickList, Shipment


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
    pdf = PrivateFileField(upload_to="print-batches/%Y/%m/")
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
