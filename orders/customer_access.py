"""The customer's way into their order without a login: a signed link, and
the customer as the one who acts on the timeline.

The token is the order's id and number signed (HMAC, `django.core.signing`)
with the project's `SECRET_KEY` under its own salt, so it cannot be guessed,
altered, or used for another order. Rotating `OMS_CUSTOMER_LINK_SALT` (or the
secret key) ends every link at once. How long a link works (until some days
after delivery) is decided by the page, which knows the deliveries.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from orders.models import Order

TOKEN_SALT = "oms.customer-page"


def _signer() -> signing.Signer:
    salt = f"{TOKEN_SALT}:{getattr(settings, 'OMS_CUSTOMER_LINK_SALT', '')}"
    return signing.Signer(salt=salt)


def customer_page_token(*, order: Order) -> str:
    """Return the signed token of the order's page."""
    return _signer().sign_object({"o": order.pk, "n": order.number}, compress=True)


def customer_page_order_ref(token: str) -> tuple[int, str] | None:
    """Return the (id, number) of the order the token was signed for, or None
    when the token is malformed or its signature does not match."""
    try:
        value = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(value, dict):
        return None
    order_id, number = value.get("o"), value.get("n")
    if not isinstance(order_id, int) or not isinstance(number, str):
        return None
    return order_id, number


def customer_page_path(*, order: Order) -> str:
    return reverse("customer:order", args=[customer_page_token(order=order)])


def customer_page_url(*, order: Order) -> str:
    """Return the absolute address of the order's page, for e-mails."""
    base = getattr(settings, "OMS_PUBLIC_URL", "").rstrip("/")
    return base + customer_page_path(order=order)


@dataclass(frozen=True)
class CustomerActor:
    """The customer, acting through their order page.

    Passed as `actor` to the same services staff use: it is no user (so no
    user is recorded), and every timeline entry it writes says *by the
    customer* with the client's address and the time.
    """

    client_address: str
    at: datetime = field(default_factory=timezone.now)
    is_authenticated = False
    is_active = False
    pk = None

    def timeline_data(self) -> dict[str, str]:
        return {
            "by": "customer",
            "client_address": self.client_address,
            "at": self.at.isoformat(),
        }

    def timeline_suffix(self) -> str:
        at = timezone.localtime(self.at).strftime("%Y-%m-%d %H:%M:%S %Z")
        return f" (by the customer, from {self.client_address} at {at})"
