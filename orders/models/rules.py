"""Rules managers write (*when … then …*), and the tags orders carry.

A rule runs at one moment of an order's life (its trigger), checks its
conditions (all or any) and, when they match, takes its actions in order.
Conditions and actions are child rows with a typed kind, an operator and a
value; `orders.rules.schema` says which operators and values each kind takes
and checks them (the admin's forms and the engine use the same checks).
"""

from django.conf import settings
from django.db import models

from inventory.models import Location


class OrderTag(models.Model):
    """A label on orders ("vip", "gift", "fraud-check"), filterable in the list."""

    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "order tag"

    def __str__(self) -> str:
        return self.name


class OrderTagging(models.Model):
    """One tag on one order: the table of `Order.tags`, as Django would make
    it, less its index on the order alone. The unique (order, tag) index
    starts with the order, so it serves those lookups too, and an import's
    rules write tens of thousands of these rows: one index fewer to fill.

    Neither column has a database foreign key, for the same reason as the
    timeline's (`OrderEvent.order`): the rows are written in bulk in the
    transaction that writes or locks their order, from tags that exist, and
    Django's cascade deletes them with their order or tag; PostgreSQL's check
    at commit (a lookup and a row lock per row and column) cost more than
    writing the rows (figures on `OrderEvent.order`)."""

    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    ordertag = models.ForeignKey(
        OrderTag, on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )

    class Meta:
        db_table = "orders_order_tags"
        # The auto-created table's constraint, kept as it is.
        unique_together = [("order", "ordertag")]
        verbose_name = "order tagging"

    def __str__(self) -> str:
        return f"{self.order_id}: {self.ordertag_id}"


class Rule(models.Model):
    class Trigger(models.TextChoices):
        INTAKE = "intake", "When an order comes in (every source)"
        ALLOCATED = "allocated", "When an order is allocated"
        PACKED = "packed", "When an order is packed"

    class Match(models.TextChoices):
        ALL = "all", "All conditions match"
        ANY = "any", "Any condition matches"

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(
        default=100, help_text="Rules run lowest first."
    )
    active = models.BooleanField(default=True)
    trigger = models.CharField(
        "when", max_length=16, choices=Trigger, default=Trigger.INTAKE
    )
    match = models.CharField(max_length=3, choices=Match, default=Match.ALL)
    stop_here = models.BooleanField(
        "stop here",
        default=False,
        help_text="When this rule matches an order, later rules are not checked for it.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Set when the rule failed on an order (it was skipped and the order held
    # "Rule failed"); cleared when the rule is saved again.
    failed_at = models.DateTimeField(
        "last failed", null=True, blank=True, editable=False
    )
    failure = models.CharField(
        "what failed", max_length=500, blank=True, editable=False
    )

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["trigger", "active", "position"])]

    def __str__(self) -> str:
        return self.name


class RuleCondition(models.Model):
    class Field(models.TextChoices):
        CHANNEL = "channel", "Channel (code)"
        SHIP_COUNTRY = "ship_country", "Ship-to country (code)"
        SHIP_REGION = "ship_region", "Ship-to region / state"
        POSTCODE = "postcode", "Ship-to postcode"
        TOTAL = "total", "Order total"
        ITEM_COUNT = "item_count", "Item count (units)"
        WEIGHT = "weight", "Weight (g)"
        SKU = "sku", "Contains SKU"
        PRODUCT_TAG = "product_tag", "Contains a product tagged"
        EMAIL = "email", "Customer e-mail"
        EMAIL_DOMAIN = "email_domain", "Customer e-mail domain"
        FIRST_ORDER = "first_order", "First order of the customer"
        SHIPPING_METHOD = "shipping_method", "Shipping method"
        DELIVERY_WITHIN = "delivery_within", "Requested delivery within (days)"
        ADDRESS_FAILED = "address_failed", "Address check failed"
        ORDER_TAG = "order_tag", "Order tag"

    class Operator(models.TextChoices):
        IS = "is", "is one of"
        IS_NOT = "is_not", "is none of"
        STARTS_WITH = "starts_with", "starts with one of"
        NOT_STARTS_WITH = "not_starts_with", "starts with none of"
        CONTAINS = "contains", "contains one of"
        NOT_CONTAINS = "not_contains", "contains none of"
        GTE = "gte", "≥"
        GT = "gt", ">"
        LTE = "lte", "≤"
        LT = "lt", "<"
        EQ = "eq", "="
        YES = "yes", "yes"
        NO = "no", "no"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField("if", max_length=20, choices=Field)
    operator = models.CharField(max_length=16, choices=Operator)
    value = models.CharField(
        max_length=500,
        blank=True,
        help_text="Several values separated by commas; empty for yes/no.",
    )

    class Meta:
        ordering = ["rule", "pk"]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}"


class RuleAction(models.Model):
    class Kind(models.TextChoices):
        HOLD = "hold", "Hold (reason in value, note)"
        PRIORITY = "priority", "Set priority"
        SHIPPING_METHOD = "shipping_method", "Set shipping method"
        POSTAGE_SERVICE = "postage_service", "Set postage carrier + service"
        RATE_PREFERENCE = "rate_preference", "Set postage rate preference"
        PIN_LOCATION = "pin_location", "Ship from location (pin)"
        EXCLUDE_LOCATION = "exclude_location", "Never ship from location (exclude)"
        ADD_TAG = "add_tag", "Add order tag"
        EMAIL = "email", "E-mail an address"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField("then", max_length=20, choices=Kind)
    value = models.CharField(
        max_length=254,
        blank=True,
        help_text="Hold reason, priority, shipping method, postage carrier and "
        "service (e.g. 'USPS Priority'), rate preference (cheapest, by_date, "
        "preferred), tag or e-mail address.",
    )
    location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For pin / exclude.",
    )
    note = models.CharField(
        max_length=500, blank=True, help_text="Hold note, or the e-mail's text."
    )

    class Meta:
        ordering = ["rule", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}".strip()
