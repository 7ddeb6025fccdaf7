"""Return requests (RMA) with their lines, and refunds.

A return walks `requested → approved | rejected; approved → received →
inspected → refunded | exchanged | closed`. Transitions touch only the
return row; `returns.services` moves stock, writes the order timeline and
mails the customer.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, transition

from core.history import tracked
from core.models import ProtectedStatusModel, VersionedModel
from inventory.models import Location
from orders.models import Order, OrderLine


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Damaged"
    DEFECTIVE = "defective", "Defective"
    WRONG_ITEM = "wrong_item", "Wrong item"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    DOES_NOT_FIT = "does_not_fit", "Does not fit"
    CHANGED_MIND = "changed_mind", "Changed mind"
    ARRIVED_LATE = "arrived_late", "Arrived late"
    OTHER = "other", "Other"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RECEIVED = "received", "Received"
    INSPECTED = "inspected", "Inspected"
    REFUNDED = "refunded", "Refunded"
    EXCHANGED = "exchanged", "Exchanged"
    CLOSED = "closed", "Closed"


class Resolution(models.TextChoices):
    REFUND = "refund", "Refund"
    EXCHANGE = "exchange", "Exchange"


class Condition(models.TextChoices):
    RESELLABLE = "resellable", "Resellable"
    DAMAGED = "damaged", "Damaged"


# Returns that still hold their lines' quantities against the order.
OPEN_STATUSES = [ReturnStatus.REQUESTED, ReturnStatus.APPROVED]
FINISHED_STATUSES = [
    ReturnStatus.REJECTED,
    ReturnStatus.REFUNDED,
    ReturnStatus.EXCHANGED,
    ReturnStatus.CLOSED,
]


@tracked(model_name="ReturnRequestHistory", ignore=["version"])
class ReturnRequest(ProtectedStatusModel, VersionedModel):
    number = models.CharField(max_length=20, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    status = FSMField(
        max_length=12,
        choices=ReturnStatus,
        default=ReturnStatus.REQUESTED,
        protected=True,
    )
    resolution = models.CharField(
        max_length=10,
        choices=Resolution,
        default=Resolution.REFUND,
        help_text="What the customer asked for.",
    )
    customer_note = models.TextField(blank=True)
    decision_message = models.TextField(
        blank=True, help_text="Instructions or the reason told to the customer."
    )
    replacement_order = models.OneToOneField(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_return",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    inspected_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "return"
        permissions = [
            ("approve_return", "Can approve and reject returns"),
            ("receive_return", "Can receive and inspect returns"),
            ("resolve_return", "Can exchange or close inspected returns"),
            ("view_return_report", "Can view the returns report"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED_STATUSES

    @transition(
        field=status, source=ReturnStatus.REQUESTED, target=ReturnStatus.APPROVED
    )
    def approve(self, message: str, at) -> None:
        """The customer may send the goods back."""
        self.decision_message = message
        self.decided_at = at

    @transition(
        field=status, source=ReturnStatus.REQUESTED, target=ReturnStatus.REJECTED
    )
    def reject(self, message: str, at) -> None:
        """The return is refused."""
        self.decision_message = message
        self.decided_at = at

    @transition(
        field=status, source=ReturnStatus.APPROVED, target=ReturnStatus.RECEIVED
    )
    def receive(self, at) -> None:
        """The parcel arrived at the warehouse."""
        self.received_at = at

    @transition(
        field=status, source=ReturnStatus.RECEIVED, target=ReturnStatus.INSPECTED
    )
    def inspect(self, at) -> None:
        """Every line's condition is known and its stock booked."""
        self.inspected_at = at

    @transition(
        field=status, source=ReturnStatus.INSPECTED, target=ReturnStatus.REFUNDED
    )
    def refund(self, at) -> None:
        """The customer got money back."""
        self.resolved_at = at

    @transition(
        field=status, source=ReturnStatus.INSPECTED, target=ReturnStatus.EXCHANGED
    )
    def exchange(self, replacement: Order, at) -> None:
        """A replacement order goes out instead of money."""
        self.replacement_order = replacement
        self.resolved_at = at

    @transition(field=status, source=ReturnStatus.INSPECTED, target=ReturnStatus.CLOSED)
    def close(self, at) -> None:
        """Finished with neither refund nor exchange."""
        self.resolved_at = at


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.PositiveIntegerField(help_text="Units the customer sends back.")
    reason = models.CharField(max_length=20, choices=ReturnReason)
    quantity_received = models.PositiveIntegerField(default=0)
    condition = models.CharField(max_length=12, choices=Condition, blank=True)
    restock_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where the units went back to stock, or were written off.",
    )

    class Meta:
        ordering = ["return_request", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="returnline_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")),
                name="returnline_received_within_quantity",
            ),
            models.UniqueConstraint(
                fields=["return_request", "order_line"],
                name="returnline_one_per_order_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.sku}"


class Refund(ProtectedStatusModel):
    """The record of money given back; the money moves in the payment system."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting a manager"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    number = models.CharField(max_length=20, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    return_request = models.ForeignKey(
        ReturnRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    status = FSMField(
        max_length=10, choices=Status, default=Status.PENDING, protected=True
    )
    lines_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    shipping_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    extra_amount = models.DecimalField(
        "other amount",
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Goodwill or a price adjustment beyond the lines and shipping.",
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=255, blank=True)
    external_reference = models.CharField(
        "payment reference",
        max_length=100,
        blank=True,
        help_text="The refund's id in the payment system; no payment data is kept.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("approve_refund", "Can approve refunds")]
        constraints = [
            models.CheckConstraint(
                condition=Q(lines_amount__gte=0)
                & Q(shipping_amount__gte=0)
                & Q(extra_amount__gte=0),
                name="refund_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(
                    amount=F("lines_amount") + F("shipping_amount") + F("extra_amount")
                ),
                name="refund_amount_is_sum_of_parts",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(external_reference=""),
                name="refund_approved_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @transition(field=status, source=Status.PENDING, target=Status.APPROVED)
    def approve(self, approver, reference: str, at) -> None:
        """A manager approved it and the payment system paid it out."""
        self.approved_by = approver
        self.external_reference = reference
        self.decided_at = at

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self, approver, at) -> None:
        """A manager refused it."""
        self.approved_by = approver
        self.decided_at = at


class RefundLine(models.Model):
    """Units of an order line a refund pays back."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="refund_lines"
    )
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["refund", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="refundline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.sku}"
