"""The signed link to the customer's order page (orders/customer_access.py)."""

import pytest
from django.core import signing

from orders.customer_access import (
    customer_page_order_ref,
    customer_page_token,
    customer_page_url,
)

# ---- the signed link


def test_token_names_its_order(allocated):
    token = customer_page_token(order=allocated)
    assert customer_page_order_ref(token) == (allocated.pk, allocated.number)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "x" + t,  # payload changed
        lambda t: t.split(":")[0],  # no signature
        lambda t: "",
        lambda t: "not a token",
    ],
)
def test_tampered_token_names_no_order(allocated, tamper):
    assert customer_page_order_ref(tamper(customer_page_token(order=allocated))) is None


def test_token_signed_under_another_salt_names_no_order(allocated):
    forged = signing.Signer(salt="something-else").sign_object(
        {"o": allocated.pk, "n": allocated.number}, compress=True
    )
    assert customer_page_order_ref(forged) is None


def test_rotating_the_link_salt_ends_old_links(allocated, settings):
    token = customer_page_token(order=allocated)
    settings.OMS_CUSTOMER_LINK_SALT = "rotated"
    assert customer_page_order_ref(token) is None


def test_page_url_is_absolute_for_emails(allocated, settings):
    settings.OMS_PUBLIC_URL = "https://shop.example/"
    url = customer_page_url(order=allocated)
    assert url.startswith("https://shop.example/o/")
    assert url.endswith(customer_page_token(order=allocated) + "/")
