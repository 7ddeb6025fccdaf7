"""The outbox's settings and plain rules: platforms, attempts, backoff, the
stock coalescing window, and what is available to sell."""

import random
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Sum

from inventory.models import StockLevel

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"
GENERIC = "generic"
EMAIL = "email"
SHOPS = {SHOPIFY, WOOCOMMERCE}


def platform_of(channel) -> str:
    return getattr(channel, "platform", "") or GENERIC


def max_attempts() -> int:
    """Attempts per message before it is failed (`OMS_OUTBOX_MAX_ATTEMPTS`)."""
    return int(getattr(settings, "OMS_OUTBOX_MAX_ATTEMPTS", 10))


# Each wait is drawn from ±JITTER of its step, so messages that failed
# together (a destination down) do not all come back in the same second.
JITTER = 0.2


def retry_delay(attempt: int, *, jitter: bool = True) -> timedelta:
    """Back off after the n-th failed attempt: 1, 2, 4, 8 … up to 60 minutes,
    each ±20 % (the one policy for every message: shops, signed webhooks,
    e-mails; and for a destination's pause after n failures in a row)."""
    step = min(60 * 2 ** max(0, attempt - 1), 3600)
    if jitter:
        step *= random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (not secret)
    return timedelta(seconds=step)


def coalesce_window() -> timedelta:
    """A channel hears about a SKU's stock at most once per this long."""
    return timedelta(
        seconds=float(getattr(settings, "OMS_STOCK_PUSH_COALESCE_SECONDS", 5))
    )


def available_quantity(product_id: int) -> int:
    """What can still be sold of a product: free stock at active locations."""
    total = StockLevel.objects.filter(
        product_id=product_id, location__active=True
    ).aggregate(free=Sum(F("on_hand") - F("allocated")))["free"]
    return max(0, total or 0)
