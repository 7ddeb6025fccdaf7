# The sequence counters moved here from the `oms` app: the table is taken
# over as it is (state only), then renamed to this app's name.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("oms", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Sequence",
                    fields=[
                        ("name", models.CharField(max_length=32, primary_key=True, serialize=False)),
                        ("last_value", models.BigIntegerField(default=0)),
                    ],
                    options={"db_table": "oms_sequence"},
                ),
            ],
            database_operations=[],
        ),
    ]
