"""Carrier tokens and channel webhook secrets are write-only in the admin:
every role that may look sees "set (…last4)", only managers set or rotate,
and the clear value is shown once, right after Rotate."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from fulfillment.models import Carrier
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE, roles_setup
from orders.models import Channel
from orders.services.channels import channel_secret_standard
from tests.factories import CarrierFactory, ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "carrier-token-0123456789-wxyz"
CHANNEL_SECRET = "whsec_c2VjcmV0LWtleS1ieXRlcy1mb3ItdGVzdHM="
ROLES = [WAREHOUSE, CUSTOMER_SERVICE, MANAGER, None]


@pytest.fixture
def things(db):
    carrier = CarrierFactory(webhook_token=TOKEN)
    channel = ChannelFactory(webhook_secret=CHANNEL_SECRET)
    return {
        "carrier": (carrier, "admin:fulfillment_carrier", TOKEN),
        "channel": (channel, "admin:orders_channel", CHANNEL_SECRET),
    }


def login(client, role):
    groups = roles_setup()
    person = UserFactory(username=f"secret-{(role or 'none').lower()[:9]}")
    if role:
        person.groups.add(groups[role])
    client.force_login(person)
    return person


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize("kind", ["carrier", "channel"])
def test_the_change_page_never_shows_the_secret(client, things, role, kind):
    obj, url_name, secret = things[kind]
    login(client, role)

    response = client.get(reverse(f"{url_name}_change", args=[obj.pk]))

    if role is None:
        assert response.status_code == 403  # staff without a role sees nothing
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert secret not in page
    assert secret[:-4] not in page
    assert f"set (…{secret[-4:]})" in page
    manager = role == MANAGER
    assert ('type="password"' in page) is manager
    assert ("rotate-secret" in page) is manager


@pytest.mark.parametrize("kind", ["carrier", "channel"])
def test_an_unset_secret_says_so(admin_client, things, kind):
    obj, url_name, _ = things[kind]
    type(obj).objects.filter(pk=obj.pk).update(
        **{"webhook_token" if kind == "carrier" else "webhook_secret": ""}
    )
    page = admin_client.get(reverse(f"{url_name}_change", args=[obj.pk]))
    assert "not set" in page.content.decode()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize("kind", ["carrier", "channel"])
def test_only_managers_rotate(client, things, role, kind):
    obj, url_name, secret = things[kind]
    login(client, role)

    response = client.post(
        reverse(f"{url_name}_rotate_secret", args=[obj.pk]), follow=True
    )

    field = "webhook_token" if kind == "carrier" else "webhook_secret"
    stored = getattr(type(obj).objects.get(pk=obj.pk), field)
    if role != MANAGER:
        assert response.status_code == 403
        assert stored == secret
        return
    assert response.redirect_chain[-1][0].endswith(f"/{obj.pk}/change/")
    assert stored != secret and len(stored) >= 40
    if kind == "channel":
        assert stored.startswith("whsec_")
    # Shown once: in the success message, and not on the page after it.
    [message] = [str(m) for m in response.context["messages"]]
    assert stored in message and "not shown again" in message
    page = client.get(reverse(f"{url_name}_change", args=[obj.pk])).content.decode()
    assert stored not in page and f"…{stored[-4:]}" in page
    log = LogEntry.objects.get(object_id=str(obj.pk))
    assert stored not in log.change_message


def test_get_on_rotate_changes_nothing(admin_client, things):
    carrier, url_name, secret = things["carrier"]
    response = admin_client.get(reverse(f"{url_name}_rotate_secret", args=[carrier.pk]))
    assert response.status_code == 302
    assert Carrier.objects.get(pk=carrier.pk).webhook_token == secret


def carrier_form(carrier, **extra):
    return {
        "code": carrier.code,
        "name": carrier.name,
        "tracking_url_template": carrier.tracking_url_template,
        "services": carrier.services,
        "active": "on",
        **extra,
    }


def test_a_manager_sets_a_token_through_the_write_only_input(client, things):
    carrier, url_name, _ = things["carrier"]
    login(client, MANAGER)
    url = reverse(f"{url_name}_change", args=[carrier.pk])

    response = client.post(url, carrier_form(carrier, new_secret="typed-token-1234567"))

    assert response.status_code == 302
    assert Carrier.objects.get(pk=carrier.pk).webhook_token == "typed-token-1234567"
    page = client.get(url).content.decode()
    assert "typed-token-1234567" not in page and "…4567" in page


def test_saving_without_a_new_token_keeps_the_old_one(admin_client, things):
    carrier, url_name, secret = things["carrier"]
    url = reverse(f"{url_name}_change", args=[carrier.pk])
    response = admin_client.post(url, carrier_form(carrier, name="Renamed"))
    assert response.status_code == 302
    carrier = Carrier.objects.get(pk=carrier.pk)
    assert (carrier.name, carrier.webhook_token) == ("Renamed", secret)


def test_a_posted_secret_field_itself_is_ignored(admin_client, things):
    carrier, url_name, secret = things["carrier"]
    url = reverse(f"{url_name}_change", args=[carrier.pk])
    admin_client.post(url, carrier_form(carrier, webhook_token="sneaky"))
    assert Carrier.objects.get(pk=carrier.pk).webhook_token == secret


def channel_form(channel, client=None, **extra):
    """The channel's change form as the page would post it back (with the
    management forms of its inlines, when a client fetches the page)."""
    data = {}
    if client is not None:
        page = client.get(reverse("admin:orders_channel_change", args=[channel.pk]))
        for inline in page.context["inline_admin_formsets"]:
            prefix = inline.formset.prefix
            data[f"{prefix}-TOTAL_FORMS"] = "0"
            data[f"{prefix}-INITIAL_FORMS"] = "0"
    for field in Channel._meta.fields:
        if not field.editable or field.primary_key or "secret" in field.name:
            continue
        value = getattr(channel, field.attname)
        if isinstance(value, bool):
            if value:
                data[field.name] = "on"
        else:
            data[field.name] = "" if value is None else value
    data["webhook_url"] = "https://shop.example/hooks"
    return {**data, **extra}


def test_a_plain_channel_secret_is_stored_in_whsec_form(admin_client, things):
    channel, url_name, _ = things["channel"]
    url = reverse(f"{url_name}_change", args=[channel.pk])
    response = admin_client.post(
        url, channel_form(channel, admin_client, new_secret="plain words")
    )
    assert response.status_code == 302
    stored = Channel.objects.get(pk=channel.pk).webhook_secret
    assert stored == channel_secret_standard("plain words")
    assert stored.startswith("whsec_")


def test_a_broken_whsec_secret_is_refused_with_a_message(admin_client, things):
    channel, url_name, secret = things["channel"]
    url = reverse(f"{url_name}_change", args=[channel.pk])
    response = admin_client.post(
        url, channel_form(channel, admin_client, new_secret="whsec_")
    )
    assert response.status_code == 200
    assert "must go on with its key in base64" in response.content.decode()
    assert Channel.objects.get(pk=channel.pk).webhook_secret == secret


def test_the_add_page_takes_a_token_and_then_hides_it(admin_client):
    response = admin_client.post(
        reverse("admin:fulfillment_carrier_add"),
        {
            "code": "newco",
            "name": "New Co",
            "tracking_url_template": "",
            "services": "",
            "active": "on",
            "new_secret": "first-token-abcdefgh",
        },
    )
    assert response.status_code == 302
    carrier = Carrier.objects.get(code="newco")
    assert carrier.webhook_token == "first-token-abcdefgh"
    page = admin_client.get(
        reverse("admin:fulfillment_carrier_change", args=[carrier.pk])
    ).content.decode()
    assert "first-token-abcdefgh" not in page
    assert re.search(r"set \(…efgh\)", page)
