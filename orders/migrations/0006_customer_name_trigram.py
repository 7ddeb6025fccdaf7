"""Contains-search on customer names through a trigram index (pg_trgm ships
with PostgreSQL's contrib package)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_list_indexes")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS customer_name_trgm ON orders_customer "
            "USING gin ((UPPER(name::text)) gin_trgm_ops)",
            "DROP INDEX IF EXISTS customer_name_trgm",
        ),
    ]
