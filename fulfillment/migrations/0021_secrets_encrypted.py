"""Secrets encrypted at rest (core.encryption): the columns become text and
the values already stored are encrypted with the first key."""

import core.encryption
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('fulfillment', '0020_files_in_storage'),
    ]

    operations = [
        migrations.AlterField(
            model_name='carrier',
            name='webhook_token',
            field=core.encryption.EncryptedTextField(blank=True, help_text="The carrier proves its tracking updates with this token (a Bearer token, the password of basic auth, or EasyPost's webhook secret). Empty refuses every update from the carrier.", max_length=128, verbose_name='tracking webhook token'),
        ),
        migrations.AlterField(
            model_name='carrieraccount',
            name='api_key',
            field=core.encryption.EncryptedTextField(blank=True, max_length=200, verbose_name='EasyPost API key'),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: core.encryption.columns_encrypt(
                schema_editor, table="fulfillment_carrier", columns=['webhook_token']
            ),
            lambda apps, schema_editor: core.encryption.columns_decrypt(
                schema_editor, table="fulfillment_carrier", columns=['webhook_token']
            ),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: core.encryption.columns_encrypt(
                schema_editor, table="fulfillment_carrieraccount", columns=['api_key']
            ),
            lambda apps, schema_editor: core.encryption.columns_decrypt(
                schema_editor, table="fulfillment_carrieraccount", columns=['api_key']
            ),
        ),
    ]
