"""Customers and orders, with the order state machine (lines: `lines.py`)."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django_countries.fields import CountryField
from django_fsm import RETURN_VALUE, FSMField, transition

from core.history import tracked
from core.lookups import Digits
from core.models import ProtectedStatusModel, VersionedModel
from core.tally_triggers import tally_triggers
from inventory.models import Location
from orders.models.channels import Channel, FinancialStatus


class CustomerQuerySet(models.QuerySet):
    def with_email_lower(self) -> "CustomerQuerySet":
        """The customers with an e-mail, each with `email_lower`: a filter on
        it reads the unique index on lower(email), which leaves out the
        customers without an e-mail (its condition must be in the query)."""
        return self.exclude(email="").annotate(email_lower=Lower("email"))


@tracked(model_name="CustomerHistory")
class Customer(models.Model):
    # Empty for a customer known only by phone (a cash-on-delivery order):
    # such a customer is found by phone and is never e-mailed.
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    accepts_marketing = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="customer_email_ci_unique",
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(email=""),
                name="customer_phone_unique_without_email",
                violation_error_message="A customer without e-mail address has "
                "this phone number already.",
            ),
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""),
                name="customer_has_email_or_phone",
                violation_error_message="Give the customer's e-mail address or "
                "phone number.",
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="customer_phone"),
            # A phone typed with other spaces or signs (orders.selectors).
            models.Index(Digits("phone"), name="customer_phone_digits"),
        ]

    def __str__(self) -> str:
        contact = self.email or self.phone
        return f"{self.name} <{contact}>" if self.name else contact


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    ON_HOLD = "on_hold", "On hold"
    CANCELLED = "cancelled", "Cancelled"


class HoldReason(models.TextChoices):
    ADDRESS_CHECK = "address_check", "Address check"
    PAYMENT = "payment", "Awaiting payment"
    TOTALS_DIFFER = "totals_differ", "Totals differ"
    FRAUD_REVIEW = "fraud_review", "Fraud review"
    CUSTOMER_REQUEST = "customer_request", "Customer request"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    OTHER = "other", "Other"
    # A rule failed on the order: it was skipped and the order held for a
    # person to look at (`orders.rules.engine.evaluate`).
    RULE_FAILED = "rule_failed", "Rule failed"


class RatePreference(models.TextChoices):
    """How a postage rate is picked among those EasyPost offers: a location's
    preference (fulfillment's `RateChoice`, which adds "a person picks") or
    one a rule set on an order."""

    CHEAPEST = "cheapest", "Cheapest"
    CHEAPEST_BY_DATE = "by_date", "Cheapest arriving by the requested delivery date"
    PREFERRED_CARRIERS = "preferred", "Cheapest of the preferred carriers"


CENT = Decimal("0.01")

HOLDABLE = [OrderStatus.PENDING, OrderStatus.ALLOCATED, OrderStatus.BACKORDERED]
CANCELLABLE = [
    OrderStatus.PENDING,
    OrderStatus.ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.ON_HOLD,
]
# The shipping address and delivery details may change until the order is packed.
EDITABLE = [
    OrderStatus.PENDING,
    OrderStatus.ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.ON_HOLD,
    OrderStatus.PICKING,
]
# Orders that still have something to ship (ship-by filters, their index).
TO_SHIP = [
    OrderStatus.PENDING,
    OrderStatus.ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.ON_HOLD,
    OrderStatus.PICKING,
    OrderStatus.PACKED,
    OrderStatus.PARTIALLY_SHIPPED,
]


@tracked(model_name="OrderHistory", ignore=["version"])
class Order(ProtectedStatusModel, VersionedModel):
    class Priority(models.IntegerChoices):
        NORMAL = 0, "Normal"
        HIGH = 1, "High"
        URGENT = 2, "Urgent"

    number = models.CharField(max_length=20, unique=True, editable=False)
    # Indexed through the (channel, external_id) unique constraint.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    external_id = models.CharField(
        "channel reference", max_length=64, help_text="The order's id in its channel."
    )
    # Shopify's numeric order id beside the order's name (#1001, the
    # channel reference): a refund names its order by this id alone.
    platform_id = models.CharField(
        "platform id",
        max_length=64,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="The order's id at its platform where it differs from the "
        "channel reference (Shopify's numeric order id).",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="orders"
    )
    status = FSMField(
        max_length=20, choices=OrderStatus, default=OrderStatus.PENDING, protected=True
    )
    hold_reason = models.CharField(max_length=20, choices=HoldReason, blank=True)
    held_from = models.CharField(
        max_length=20, choices=OrderStatus, blank=True, editable=False
    )
    priority = models.PositiveSmallIntegerField(
        choices=Priority, default=Priority.NORMAL
    )

    ship_name = models.CharField("ship-to name", max_length=200)
    ship_company = models.CharField("company", max_length=200, blank=True)
    ship_address1 = models.CharField("address line 1", max_length=200)
    ship_address2 = models.CharField("address line 2", max_length=200, blank=True)
    ship_city = models.CharField("city", max_length=100)
    ship_region = models.CharField("region / state", max_length=100, blank=True)
    ship_postcode = models.CharField("postcode", max_length=20, blank=True)
    ship_country = CountryField("country")
    ship_phone = models.CharField("phone", max_length=40, blank=True)
    shipping_method = models.CharField(max_length=64, blank=True)
    requested_delivery_date = models.DateField(null=True, blank=True)
    # The postage the order wants (set by rules or staff), before the shipping
    # location's preference (fulfillment.postage.rates): an EasyPost carrier
    # and service, else a rate preference.
    postage_carrier = models.CharField(
        max_length=64, blank=True, help_text="EasyPost carrier name, e.g. USPS."
    )
    postage_service = models.CharField(
        max_length=64, blank=True, help_text="EasyPost service name, e.g. Priority."
    )
    rate_preference = models.CharField(
        max_length=10,
        choices=RatePreference,
        blank=True,
        help_text="Empty: the shipping location's preference.",
    )

    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    shipping_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    tax_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    # Money as the shop means it (orders.money): discounts on the merchandise
    # (all of them, on lines and on the order) and on shipping; whether the
    # prices and the total already contain the tax; what the shop said the
    # customer pays (null: it did not say), kept beside the total computed here.
    # Database defaults too: rows written by COPY or INSERT … SELECT (imports,
    # the scale seed) may leave these out.
    discount_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), db_default=Decimal("0")
    )
    shipping_discount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), db_default=Decimal("0")
    )
    prices_include_tax = models.BooleanField(
        "prices include tax",
        default=False,
        db_default=False,
        help_text="The prices and the total already contain the tax.",
    )
    stated_total = models.DecimalField(
        "total stated by the shop",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    discount_codes = models.JSONField(default=list, db_default=[], blank=True)
    financial_status = models.CharField(
        max_length=20,
        choices=FinancialStatus,
        blank=True,
        default="",
        db_default="",
        help_text="The shop's payment state; empty when it did not say.",
    )
    note = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="The customer's note to the shop, as sent.",
    )
    note_attributes = models.JSONField(
        "note attributes",
        default=list,
        db_default=[],
        blank=True,
        help_text='Gift message, delivery instructions…: [{"name": …, "value": …}].',
    )

    placed_at = models.DateTimeField()
    # From the channel's handling time at intake (orders.services.shipby).
    ship_by = models.DateField(
        "ship by",
        null=True,
        blank=True,
        help_text="The day the order must leave, from the channel's cut-off and "
        "handling time and the working days of the location expected to ship it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Set by rules (orders.rules): tags, and where allocation must (not) ship from.
    tags = models.ManyToManyField(
        "orders.OrderTag",
        blank=True,
        related_name="orders",
        through="orders.OrderTagging",
    )
    routing_pin = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="ship from (pinned by a rule)",
    )
    routing_exclude = models.JSONField(
        "never ship from (location ids, set by rules)", default=list, blank=True
    )

    class Meta:
        ordering = ["-placed_at", "-pk"]
        # The dashboard's order counts (oms.tallies): by hour placed (UTC),
        # channel and status, into oms.models.OrderTallyChange.
        triggers = tally_triggers(
            name="order_tally",
            changes="oms_ordertallychange",
            keys={
                "hour": "date_trunc('hour', {row}.placed_at AT TIME ZONE 'UTC') "
                "AT TIME ZONE 'UTC'",
                "channel_id": "{row}.channel_id",
                "status": "{row}.status",
            },
        )
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="order_channel_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.ON_HOLD) | ~Q(hold_reason=""),
                name="order_on_hold_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "priority", "placed_at"]),
            # The order list: newest first, alone or within a status or channel.
            models.Index(fields=["-placed_at", "-id"], name="order_placed_desc"),
            models.Index(
                fields=["status", "-placed_at", "-id"], name="order_status_placed"
            ),
            models.Index(
                fields=["channel", "-placed_at", "-id"], name="order_channel_placed"
            ),
            models.Index(fields=["external_id"], name="order_external_id"),
            models.Index(
                fields=["channel", "platform_id"],
                condition=~Q(platform_id=""),
                name="order_channel_platform_id",
            ),
            models.Index(fields=["ship_phone"], name="order_ship_phone"),
            models.Index(Digits("ship_phone"), name="order_ship_phone_digits"),
            # Due today / late to ship: only orders still to leave are indexed.
            models.Index(
                fields=["ship_by"],
                condition=Q(status__in=TO_SHIP),
                name="order_ship_by_open",
            ),
        ]
        permissions = [
            ("allocate_order", "Can allocate stock to orders"),
            ("fulfil_order", "Can pick, pack, ship and deliver orders"),
            ("hold_order", "Can put orders on hold and release them"),
            ("cancel_order", "Can cancel orders"),
            ("export_order", "Can export orders to CSV/XLSX"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def tax_text(self) -> str:
        """The tax as the order shows it: included in the prices ("incl. tax
        21.00") or on top ("tax 21.00")."""
        if self.prices_include_tax:
            return f"incl. tax {self.tax_amount} {self.currency}"
        return f"+ tax {self.tax_amount} {self.currency}"

    @property
    def totals_differ(self) -> bool:
        """The shop stated a total other than the one computed here."""
        return self.stated_total is not None and self.stated_total != self.total

    # Transitions change only this row; orders/services/ does the rest.

    @transition(
        field=status,
        source=[OrderStatus.PENDING, OrderStatus.BACKORDERED],
        target=OrderStatus.ALLOCATED,
    )
    def allocate(self) -> None:
        """Every line is reserved."""

    @transition(
        field=status,
        source=[OrderStatus.PENDING, OrderStatus.ALLOCATED],
        target=OrderStatus.BACKORDERED,
    )
    def backorder(self) -> None:
        """Some line waits for stock."""

    # A backordered order may be picked too: what is reserved ships now, the
    # rest follows when it arrives (partial shipment).
    @transition(
        field=status,
        source=[OrderStatus.ALLOCATED, OrderStatus.BACKORDERED],
        target=OrderStatus.PICKING,
    )
    def start_picking(self) -> None:
        """The order is on a pick list."""

    @transition(
        field=status,
        source=[OrderStatus.PICKING, OrderStatus.PACKED],
        target=OrderStatus.ALLOCATED,
    )
    def unpick(self) -> None:
        """Taken off its pick list and out of its boxes: the stock is still
        reserved for it (the step before cancelling a packed order)."""

    @transition(field=status, source=OrderStatus.PICKING, target=OrderStatus.PACKED)
    def pack(self) -> None:
        """Every parcel is packed."""

    @transition(
        field=status,
        source=[OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED],
        target=OrderStatus.PARTIALLY_SHIPPED,
    )
    def ship_partially(self) -> None:
        """Some shipments left, others have not."""

    @transition(
        field=status,
        source=[OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED],
        target=OrderStatus.SHIPPED,
    )
    def ship(self) -> None:
        """Everything has left the building."""

    @transition(
        field=status,
        source=[OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED],
        target=RETURN_VALUE(
            OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED
        ),
    )
    def unship(self, back_to: str) -> str:
        """A shipment did not leave after all (its label was voided before
        the carrier had it): back to where the order was before it shipped."""
        return back_to

    @transition(field=status, source=OrderStatus.SHIPPED, target=OrderStatus.DELIVERED)
    def deliver(self) -> None:
        """The carrier delivered every shipment."""

    @transition(
        field=status,
        source=[OrderStatus.PENDING, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED],
        target=OrderStatus.DELIVERED,
    )
    def complete_without_shipment(self) -> None:
        """Nothing on the order ships (gift cards, digital and custom items
        only, which the shop hands over itself): it is done, as a delivered
        order is, without a shipment."""

    @transition(field=status, source=HOLDABLE, target=OrderStatus.ON_HOLD)
    def hold(self, reason: str) -> None:
        """Stop work on the order until someone releases it."""
        self.held_from = self.status
        self.hold_reason = reason

    @transition(
        field=status,
        source=[OrderStatus.PICKING, OrderStatus.PACKED],
        target=OrderStatus.ON_HOLD,
    )
    def hold_in_warehouse(self, reason: str) -> None:
        """Stop a picked or packed order before it ships (its address failed
        the carrier's check); released, it goes back to picking or packed."""
        self.held_from = self.status
        self.hold_reason = reason

    @transition(
        field=status,
        source=OrderStatus.ON_HOLD,
        target=RETURN_VALUE(*HOLDABLE, OrderStatus.PICKING, OrderStatus.PACKED),
    )
    def release(self) -> str:
        """Go back to the state the order was held from."""
        previous = self.held_from or OrderStatus.PENDING
        self.held_from = ""
        self.hold_reason = ""
        return previous

    @transition(
        field=status,
        source=CANCELLABLE,
        target=OrderStatus.CANCELLED,
        # An order held in the warehouse has packed parcels: release it first.
        conditions=[
            lambda order: (
                order.held_from not in (OrderStatus.PICKING, OrderStatus.PACKED)
            )
        ],
    )
    def cancel(self) -> None:
        """Stop the order for good."""
        self.held_from = ""
        self.hold_reason = ""
