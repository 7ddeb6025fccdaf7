"""A shop is connected from the admin: the channel's page per platform, the
webhook address and topics, *Test connection* against local servers in the
platforms' shapes (made by a worker, after the commit), what was last
received and sent, and API keys made (shown once) and revoked there."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from connections.models import ChannelApiKey, ConnectionCheck, InboundMessage
from connections.services.api_keys import channel_api_key_check
from orders.services.channels import channel_secret_generate
from tests.support.shops import FakeShopify, FakeWooCommerce, GenericChannel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_shops(settings):
    settings.OMS_SHOP_URL_SCHEME = "http"
    settings.OMS_OUTBOX_TIMEOUT = 2
    settings.OMS_PUBLIC_URL = "https://oms.example.com"


def page(client, channel) -> str:
    response = client.get(reverse("admin:orders_channel_change", args=[channel.pk]))
    assert response.status_code == 200
    return response.content.decode()


def step(client, channel, name: str, data=None, capture=None):
    url = reverse("admin:orders_channel_step", args=[channel.pk, name])
    if capture is None:
        return client.post(url, data or {})
    with capture(execute=True):
        return client.post(url, data or {})


def shown_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_shopify_channel_shows_its_webhook_address_topics_and_only_its_fields(
    admin_client, channel
):
    channel.platform = "shopify"
    channel.save()
    html = page(admin_client, channel)
    address = f"https://oms.example.com/api/channels/{channel.code}/webhooks/shopify/"
    assert address in html
    for topic in (
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "refunds/create",
    ):
        assert f"<code>{topic}</code>" in html
    assert 'name="shop_domain"' in html and 'name="new_access_token"' in html
    # Our own signed webhooks are there, but folded away as optional.
    assert "Our signed webhooks (optional)" in html
    assert "Test connection" in html and "Make an API key" in html


def test_a_generic_channel_shows_the_order_api_not_shop_fields(admin_client, channel):
    html = page(admin_client, channel)
    assert "https://oms.example.com/api/v1/orders" in html
    assert 'name="shop_domain"' not in html
    assert 'name="new_access_token"' not in html
    assert 'name="new_inbound_secret"' not in html
    assert 'name="webhook_url"' in html


def test_test_connection_reads_the_shopify_shop_in_a_worker(
    admin_client, channel, django_capture_on_commit_callbacks
):
    with FakeShopify() as shop:
        channel.platform = "shopify"
        channel.shop_domain = shop.domain
        channel.access_token = FakeShopify.TOKEN
        channel.save()
        # Nothing is called in the request: the check waits for the commit.
        response = step(admin_client, channel, "test_connection")
        assert response.status_code == 302
        check = ConnectionCheck.objects.get()
        assert check.status == "waiting" and shop.requests == []
        response = step(
            admin_client,
            channel,
            "test_connection",
            capture=django_capture_on_commit_callbacks,
        )
        assert "a worker calls the shop now" in shown_messages(response)[0]
    latest = ConnectionCheck.objects.first()
    assert (latest.status, latest.response_code) == ("ok", 200)
    assert latest.answer == f"Connected to Acme Test Shop ({shop.domain})."
    assert "shop {" in shop.requests[-1]["body"]["query"]
    assert "Connected (" in page(admin_client, channel)


def test_a_refused_token_is_shown_as_the_shop_said(
    admin_client, channel, django_capture_on_commit_callbacks
):
    with FakeShopify() as shop:
        channel.platform = "shopify"
        channel.shop_domain = shop.domain
        channel.access_token = "shpat_wrong"
        channel.save()
        step(
            admin_client,
            channel,
            "test_connection",
            capture=django_capture_on_commit_callbacks,
        )
    check = ConnectionCheck.objects.get()
    assert (check.status, check.response_code) == ("failed", 401)
    assert "refused the access token" in check.answer
    assert "refused the access token" in page(admin_client, channel)


def test_test_connection_reads_the_woocommerce_system_status(
    admin_client, channel, django_capture_on_commit_callbacks
):
    with FakeWooCommerce() as shop:
        channel.platform = "woocommerce"
        channel.shop_domain = shop.domain
        channel.access_token = FakeWooCommerce.KEY
        channel.save()
        step(
            admin_client,
            channel,
            "test_connection",
            capture=django_capture_on_commit_callbacks,
        )
    check = ConnectionCheck.objects.get()
    assert check.status == "ok", check.answer
    assert check.answer == f"Connected to WooCommerce 8.9.1 at http://{shop.domain}."


def test_test_connection_sends_a_generic_channel_a_signed_ping(
    admin_client, channel, django_capture_on_commit_callbacks
):
    secret = channel_secret_generate()
    with GenericChannel(secret) as server:
        channel.webhook_url = server.url
        channel.webhook_secret = secret
        channel.save()
        step(
            admin_client,
            channel,
            "test_connection",
            capture=django_capture_on_commit_callbacks,
        )
    check = ConnectionCheck.objects.get()
    assert check.status == "ok", check.answer
    [ping] = server.received
    assert ping["signed"] and ping["body"]["event"] == "ping"


def test_the_page_shows_what_was_last_received_and_sent(admin_client, channel):
    InboundMessage.objects.create(
        channel=channel, source="api", topic="orders/create", status="processed"
    )
    html = page(admin_client, channel)
    assert re.search(r"Last received:</strong> orders/create · Processed", html)
    assert "Last sent:</strong> nothing yet" in html
    assert "never tested" in html


def test_an_api_key_is_made_on_the_channel_page_shown_once_and_revoked(
    admin_client, channel
):
    form = admin_client.get(
        reverse("admin:orders_channel_step", args=[channel.pk, "api_key"])
    )
    assert form.status_code == 200
    response = step(admin_client, channel, "api_key", {"name": "ERP export"})
    [text] = shown_messages(response)
    key = re.search(r"oms_\S+", text).group(0)
    api_key = ChannelApiKey.objects.get()
    assert api_key.name == "ERP export" and key not in api_key.key_hash
    assert channel_api_key_check(key) == api_key
    # Shown once, on the page after it was made; then only by its prefix.
    assert key in page(admin_client, channel)
    html = page(admin_client, channel)
    assert api_key.prefix in html and key not in html
    admin_client.post(
        reverse("admin:connections_channelapikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    assert channel_api_key_check(key) is None


def test_a_warehouse_user_cannot_test_or_make_keys(client, channel, django_user_model):
    from oms.roles import WAREHOUSE, roles_setup

    roles_setup()
    user = django_user_model.objects.create_user("pick", password="x", is_staff=True)
    user.groups.add(WAREHOUSE and user.groups.model.objects.get(name=WAREHOUSE))
    client.force_login(user)
    response = step(client, channel, "api_key", {"name": "x"})
    assert response.status_code == 403
    assert not ChannelApiKey.objects.exists()
