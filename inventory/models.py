"""Products, locations, stock levels, the stock ledger and allocations."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django_countries.fields import CountryField

from core.history import tracked
from inventory import workdays


@tracked(model_name="ProductHistory")
class Product(models.Model):
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    barcode = models.CharField(
        max_length=32, blank=True, help_text="GTIN / EAN printed on the item."
    )
    weight_g = models.PositiveIntegerField("weight (g)", default=0)
    # Packed size, for the parcel EasyPost rates (empty: unknown).
    length_mm = models.PositiveIntegerField("length (mm)", null=True, blank=True)
    width_mm = models.PositiveIntegerField("width (mm)", null=True, blank=True)
    height_mm = models.PositiveIntegerField("height (mm)", null=True, blank=True)
    active = models.BooleanField(default=True)
    tags = models.CharField(
        max_length=200,
        blank=True,
        help_text="Comma-separated, e.g. fragile, hazmat (order rules can match them).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


@tracked(model_name="LocationHistory")
class Location(models.Model):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", "Warehouse"
        STORE = "store", "Store"
        THIRD_PARTY = "3pl", "3PL"

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.WAREHOUSE)
    address = models.TextField(blank=True)
    country = CountryField()
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower ships first when several locations can."
    )
    ships_to = CountryField(
        multiple=True,
        blank=True,
        help_text="Countries this location ships to. None chosen means everywhere.",
    )
    active = models.BooleanField(default=True)
    # Its calendar (inventory.workdays): ship-by dates and scheduled waves.
    working_days = models.CharField(
        max_length=7,
        default=workdays.DEFAULT_WORKING_DAYS,
        validators=[workdays.validate_working_days],
        help_text="Weekdays it ships on, as digits 1 (Monday) to 7 (Sunday): "
        "12345 is Monday to Friday.",
    )
    holidays = models.TextField(
        blank=True,
        validators=[workdays.validate_holidays],
        help_text="Dates it does not ship, as YYYY-MM-DD, one per line.",
    )
    wave_times = models.CharField(
        max_length=200,
        blank=True,
        validators=[workdays.validate_wave_times],
        help_text="Times of day (site time zone) a pick wave is made from the "
        "allocated orders, e.g. 09:00, 13:30. Empty: no scheduled waves.",
    )
    wave_size = models.PositiveIntegerField(
        default=200,
        validators=[MinValueValidator(1), MaxValueValidator(5000)],
        help_text="Most orders on one scheduled wave.",
    )
    confirm_picks = models.BooleanField(
        default=False,
        help_text="Pickers confirm each pick list by scanning the bin, then "
        "the item (Confirm picks on the pick list); short picks ship short.",
    )

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def ships_to_countries(self) -> frozenset[str]:
        # The field keeps its clean list of codes in the instance; reading it
        # there skips building a Country object per code for every stock
        # level the allocation engine weighs.
        return frozenset(self.__dict__.get("ships_to") or ())

    def can_ship_to(self, country: str) -> bool:
        countries = self.ships_to_countries
        return not countries or str(country).upper() in countries


@tracked(model_name="StockLevelHistory")
class StockLevel(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="stock_levels"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="stock_levels"
    )
    bin = models.CharField(
        max_length=32, blank=True, help_text="Pick face, e.g. A-03-2."
    )
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    reorder_point = models.PositiveIntegerField(
        default=0, help_text="Reorder when available stock falls to this level."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__sku", "location__priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"],
                name="stocklevel_product_location_unique",
            ),
            models.CheckConstraint(
                condition=Q(allocated__gte=0), name="stocklevel_allocated_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("on_hand")),
                name="stocklevel_allocated_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.location.code}"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class StockMovement(models.Model):
    class Reason(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        SHIPMENT = "shipment", "Sale / shipment"
        RETURN = "return", "Return restock"
        RETURN_DAMAGED = "return_damaged", "Return written off"
        DAMAGED = "damaged", "Adjustment: damaged"
        LOST = "lost", "Adjustment: lost"
        FOUND = "found", "Adjustment: found"
        CORRECTION = "correction", "Adjustment: correction"
        CYCLE_COUNT = "cycle_count", "Cycle count"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        TRANSFER_IN = "transfer_in", "Transfer in"

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="movements"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="movements"
    )
    delta = models.IntegerField()
    reason = models.CharField(max_length=20, choices=Reason)
    reference = models.CharField(
        max_length=64,
        blank=True,
        help_text="Order, shipment, return or receipt number.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["product", "location"])]

    def __str__(self) -> str:
        return (
            f"{self.delta:+d} {self.product.sku} @ {self.location.code} ({self.reason})"
        )


class Allocation(models.Model):
    """Stock reserved at one location for one order line."""

    # A lazy reference: inventory never imports the orders app.
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.CASCADE, related_name="allocations"
    )
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="allocations"
    )
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_line", "stock_level"],
                name="allocation_line_level_unique",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="allocation_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.quantity} × line {self.order_line_id} @ level {self.stock_level_id}"
        )
