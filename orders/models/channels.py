"""Sales channels and their API keys."""

import datetime

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models

from core.encryption import EncryptedTextField


class FinancialStatus(models.TextChoices):
    """The shop's payment state of an order, as every channel's is normalised
    to (empty: the shop did not say, taken as paid)."""

    PAID = "paid", "Paid"
    AUTHORIZED = "authorized", "Authorized"
    PENDING = "pending", "Pending"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    VOIDED = "voided", "Voided"
    UNPAID = "unpaid", "Unpaid"


def accepted_financial_statuses_default() -> list[str]:
    """The payment states a new channel takes orders in with."""
    return [
        FinancialStatus.PAID.value,
        FinancialStatus.AUTHORIZED.value,
        FinancialStatus.PARTIALLY_REFUNDED.value,
    ]


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", "Web shop"
        MARKETPLACE = "marketplace", "Marketplace"
        PHONE = "phone", "Phone"
        EMAIL = "email", "E-mail"
        POS = "pos", "Point of sale"
        IMPORT = "import", "CSV import"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.WEB)
    webhook_url = models.URLField(
        blank=True, help_text="Shipping updates are POSTed here when set."
    )
    webhook_secret = EncryptedTextField(
        max_length=128, blank=True, help_text="Signs webhook bodies (HMAC-SHA256)."
    )
    send_customer_emails = models.BooleanField(
        default=True,
        help_text="Turn off for marketplaces that mail their own customers.",
    )
    active = models.BooleanField(default=True)

    class Platform(models.TextChoices):
        GENERIC = "generic", "Generic (our API and signed webhooks)"
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"

    platform = models.CharField(
        max_length=16,
        choices=Platform,
        default=Platform.GENERIC,
        help_text="Which shop software the channel is: it decides how orders "
        "arrive (webhooks in the platform's shape) and how fulfilment and stock "
        "go back (the platform's API, or our signed webhooks for generic).",
    )
    shop_domain = models.CharField(
        max_length=255,
        blank=True,
        help_text="Shopify: the shop's myshopify.com domain (acme.myshopify.com). "
        "WooCommerce: the shop's address (shop.example.com, https assumed).",
    )
    access_token = EncryptedTextField(
        max_length=255,
        blank=True,
        help_text="For calls to the shop's API (write-only). Shopify: the Admin "
        "API access token (shpat_…). WooCommerce: the REST API consumer key and "
        "secret as ck_…:cs_….",
    )
    # Kept apart from webhook_secret: that one signs what is sent to the
    # channel in the Standard Webhooks form (whsec_<base64>), while Shopify and
    # WooCommerce sign what they send with a secret of their own, used as is.
    inbound_secret = EncryptedTextField(
        max_length=255,
        blank=True,
        help_text="Verifies webhooks the shop sends (write-only), used as typed. "
        "Shopify: the app's client secret (or the secret shown under Settings → "
        "Notifications → Webhooks). WooCommerce: the webhook's Secret. Not the "
        "outbound webhook secret above, which signs what is sent to the channel.",
    )
    # The customer's order page (and its links in e-mails) in the channel's
    # own colours: a shop's customers know the shop, not the OMS.
    display_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The shop's name as customers know it, on the order page; "
        "the channel's name when empty.",
    )
    logo_url = models.URLField(
        "logo URL",
        blank=True,
        help_text="An https address of the shop's logo, shown at the top of the "
        "order page (about 40 px high).",
    )
    accent_colour = models.CharField(
        max_length=7,
        default="#1f6feb",
        validators=[
            RegexValidator(
                r"^#[0-9a-fA-F]{6}$", "Write the colour as #rrggbb, e.g. #1f6feb."
            )
        ],
        help_text="Buttons and headings on the order page, as #rrggbb.",
    )
    support_email = models.EmailField(
        blank=True, help_text="Where the order page tells customers to write."
    )
    return_window_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MaxValueValidator(365)],
        help_text="Days after delivery during which customers may start a return "
        "on their order page (0: never).",
    )
    # Handling time: when an order must leave (orders.services.shipby).
    cutoff_time = models.TimeField(
        "cut-off time",
        default=datetime.time(14, 0),
        help_text="Orders placed before this time of day (site time zone) on a "
        "working day ship that day; later ones the next working day.",
    )
    handling_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(30)],
        help_text="Working days the warehouse may take on top (0: ship on the "
        "day given by the cut-off).",
    )
    push_stock = models.BooleanField(
        "push available stock",
        default=False,
        help_text="Tell the shop the available quantity of its SKUs whenever it "
        "changes (Shopify and WooCommerce: the SKUs under Channel listings; "
        "generic: every SKU, as inventory.updated webhooks).",
    )
    accepted_financial_statuses = ArrayField(
        models.CharField(max_length=20, choices=FinancialStatus),
        verbose_name="payment states taken in",
        default=accepted_financial_statuses_default,
        blank=True,
        help_text="Orders the shop reports in one of these payment states are "
        "taken in at once; any other is kept on hold (awaiting payment, no stock "
        "reserved) until the shop reports it paid. An order without a payment "
        "state is taken in.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def accepts_payment(self, financial_status: str) -> bool:
        """Whether an order in this payment state is taken in at once."""
        return not financial_status or financial_status in (
            self.accepted_financial_statuses
        )

    @property
    def shop_name(self) -> str:
        """The name customers know the shop by."""
        return self.display_name or self.name
