"""Secrets encrypted at rest with keys from the environment, and their rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core.encryption import secrets_reencrypt
from orders.models import Channel

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored(column: str, channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM orders_channel WHERE id = %s", [channel.pk]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def old_key(settings):
    settings.OMS_FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    return settings


@pytest.fixture
def shop(db, old_key):
    return Channel.objects.create(
        code="shop",
        name="Shop",
        access_token="shpat_0123456789abcdef",
        webhook_secret="whsec_c2VjcmV0",
        inbound_secret="",
    )


def test_the_column_holds_no_plain_text(shop):
    column = stored("access_token", shop)
    assert "shpat_0123456789abcdef" not in column
    assert (
        Fernet(OLD_KEY.encode()).decrypt(column.encode()) == b"shpat_0123456789abcdef"
    )


def test_the_model_reads_the_plain_value(shop):
    assert Channel.objects.get(pk=shop.pk).access_token == "shpat_0123456789abcdef"


def test_an_empty_secret_stays_empty(shop):
    assert stored("inbound_secret", shop) == ""


def test_an_update_encrypts_too(shop):
    Channel.objects.filter(pk=shop.pk).update(webhook_secret="whsec_bmV3")
    assert "whsec_bmV3" not in stored("webhook_secret", shop)
    assert Channel.objects.get(pk=shop.pk).webhook_secret == "whsec_bmV3"


def test_the_old_key_still_decrypts_before_rotation(shop, old_key):
    old_key.OMS_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert Channel.objects.get(pk=shop.pk).access_token == "shpat_0123456789abcdef"


def test_rotation_encrypts_again_with_the_first_key(shop, old_key):
    old_key.OMS_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("secrets_reencrypt", batch_size=1)

    column = stored("access_token", shop)
    assert (
        Fernet(NEW_KEY.encode()).decrypt(column.encode()) == b"shpat_0123456789abcdef"
    )
    old_key.OMS_FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert Channel.objects.get(pk=shop.pk).webhook_secret == "whsec_c2VjcmV0"


def test_rotation_counts_every_secret_set(shop, old_key):
    old_key.OMS_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert secrets_reencrypt() == 2


def test_a_missing_key_stops_with_a_message(shop, old_key):
    old_key.OMS_FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(ImproperlyConfigured, match="key that encrypted it is missing"):
        Channel.objects.get(pk=shop.pk)
