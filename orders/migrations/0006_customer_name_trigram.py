"""Contains-search on customer names through a trigram index (PostgreSQL only;
pg_trgm ships with PostgreSQL's contrib package)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_name_trgm ON orders_customer "
        "USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS customer_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_list_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
