# Order numbers (SO-…) from a PostgreSQL sequence instead of a counter row.
#
# `nextval` keeps no one waiting: the counter row it replaces stayed locked
# for the whole transaction that drew from it (a CSV import held every API
# and admin order's number for as long as it ran). Each sequence starts after
# the highest number in use and the counter's last value, whichever is
# higher; it belongs to its column (dropped with it). Going back writes the
# sequence's last value into the counter table again.

from django.db import migrations


def _forward(sequence, table, column, pattern, counter):
    """The statements creating one sequence, started past what is in use."""
    if pattern is None:
        in_use = f"SELECT COALESCE(MAX({column}), 0) FROM {table}"
    else:
        in_use = (
            f"SELECT COALESCE(MAX(substring({column} FROM '{pattern}')::bigint), 0) "
            f"FROM {table}"
        )
    return [
        f"CREATE SEQUENCE {sequence} AS bigint OWNED BY {table}.{column}",
        f"SELECT setval('{sequence}', 1 + GREATEST(({in_use}), "
        f"(SELECT COALESCE(MAX(last_value), 0) FROM core_sequence "
        f"WHERE name = '{counter}')), false)",
    ]


def _backward(sequence, counter):
    """The statements giving the counter table its value back."""
    return [
        "INSERT INTO core_sequence (name, last_value) "
        f"SELECT '{counter}', CASE WHEN is_called THEN last_value "
        f"ELSE last_value - 1 END FROM {sequence} "
        "ON CONFLICT (name) DO UPDATE SET last_value = excluded.last_value",
        f"DROP SEQUENCE {sequence}",
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0029_history_triggers_with_the_money_fields"),
        ("core", "0003_worker_heartbeat_schedule"),
    ]
    # The counter table is read here before core drops it.
    run_before = [("core", "0004_number_counters_to_sequences")]

    operations = [
        migrations.RunSQL(
            _forward(
                "number_order", "orders_order", "number", "^SO-([0-9]{1,18})$", "order"
            ),
            _backward("number_order", "order"),
        ),
    ]
