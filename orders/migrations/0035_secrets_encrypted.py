"""Secrets encrypted at rest (core.encryption): the columns become text and
the values already stored are encrypted with the first key."""

import core.encryption
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0034_import_files_in_storage'),
    ]

    operations = [
        migrations.AlterField(
            model_name='channel',
            name='access_token',
            field=core.encryption.EncryptedTextField(blank=True, help_text="For calls to the shop's API (write-only). Shopify: the Admin API access token (shpat_…). WooCommerce: the REST API consumer key and secret as ck_…:cs_….", max_length=255),
        ),
        migrations.AlterField(
            model_name='channel',
            name='inbound_secret',
            field=core.encryption.EncryptedTextField(blank=True, help_text="Verifies webhooks the shop sends (write-only), used as typed. Shopify: the app's client secret (or the secret shown under Settings → Notifications → Webhooks). WooCommerce: the webhook's Secret. Not the outbound webhook secret above, which signs what is sent to the channel.", max_length=255),
        ),
        migrations.AlterField(
            model_name='channel',
            name='webhook_secret',
            field=core.encryption.EncryptedTextField(blank=True, help_text='Signs webhook bodies (HMAC-SHA256).', max_length=128),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: core.encryption.columns_encrypt(
                schema_editor, table="orders_channel", columns=['access_token', 'inbound_secret', 'webhook_secret']
            ),
            lambda apps, schema_editor: core.encryption.columns_decrypt(
                schema_editor, table="orders_channel", columns=['access_token', 'inbound_secret', 'webhook_secret']
            ),
        ),
    ]
