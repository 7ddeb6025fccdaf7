"""An order's lines: what was sold, at what price and discount, and whether
it ships."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.db.models import Q

from core.history import tracked
from inventory.models import Product
from orders.models.orders import CENT, Order


@tracked(model_name="OrderLineHistory")
class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    # None only for a line that does not ship (a gift card, a custom item)
    # whose SKU names no product.
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    sku = models.CharField("SKU", max_length=64, blank=True)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    # Per unit, before discounts.
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    # The line's share of every discount, and its total after them as the
    # shop sent it, kept exactly (a shop may send more than cents).
    discount_amount = models.DecimalField(
        max_digits=16, decimal_places=6, default=Decimal("0"), db_default=Decimal("0")
    )
    total = models.DecimalField(max_digits=16, decimal_places=6)
    requires_shipping = models.BooleanField(
        default=True,
        db_default=True,
        help_text="False for gift cards, digital and custom items: kept and "
        "counted in the totals, never reserved, picked or shipped.",
    )
    external_id = models.CharField(
        "channel reference",
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="The shop's id of the line or its product.",
    )
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="orderline_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=models.F("quantity")),
                name="orderline_shipped_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(requires_shipping=False) | Q(product__isnull=False),
                name="orderline_shipping_has_product",
            ),
            models.CheckConstraint(
                condition=Q(requires_shipping=True) | Q(quantity_shipped=0),
                name="orderline_not_shipping_never_shipped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku or self.name}"

    @property
    def line_total(self) -> Decimal:
        """The line's total after its discounts, in cents."""
        return self.total.quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def discount_cents(self) -> Decimal:
        """The line's discount in cents, as pages and documents show it."""
        return self.discount_amount.quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def unit_total(self) -> Decimal:
        """What one unit costs after the line's discounts (its total shared
        over its units), in cents."""
        return (self.total / self.quantity).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def gross_total(self) -> Decimal:
        """Quantity × unit price, before discounts."""
        return self.unit_price * self.quantity
