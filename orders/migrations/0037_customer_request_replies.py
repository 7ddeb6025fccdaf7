"""A customer request's handling note becomes the reply the customer gets
(e-mailed and shown on their order page): renamed, kept, and no longer
limited to one line."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0036_customer_emails_in_the_outbox"),
    ]

    operations = [
        migrations.RenameField(
            model_name="customerrequest", old_name="handled_note", new_name="reply"
        ),
        migrations.AlterField(
            model_name="customerrequest",
            name="reply",
            field=models.TextField(blank=True),
        ),
    ]
