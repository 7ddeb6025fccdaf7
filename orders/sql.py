"""The orders app's raw SQL: each statement here beat the ORM in a benchmark
(`tests/bench/bench_orders_sql.py`, ORM and raw timed side by side in one
run, best of 3, at an import's scale: 25,000 orders, 5,000 new customers,
27,500 tag pairs; figures from a busy machine in each docstring)."""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from orders.models import OrderTagging


def ids_reserve(model, count: int) -> list[int]:
    """Take `count` new primary keys from the model's sequence, so rows can be
    written by COPY (and named by other rows) before they exist.

    The ORM has no way to take ids without inserting; `bulk_create` returns
    them only after an INSERT ... RETURNING of whole rows (bench_orders_sql
    `ids_reserve`: 25,000 orders reserved and written by COPY in 1.9 s,
    `bulk_create` 16.9 s, 8.7x)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def customers_insert_new(
    *, emails: Sequence[str], names: Sequence[str], phones: Sequence[str], now: datetime
) -> list[tuple[str, int]]:
    """Insert the customers whose e-mail (any case) is not stored yet, or,
    for those without an e-mail, whose phone is not, and return (key, id) of
    those inserted, the key as `orders.services.drafts.customer_key` makes it
    (the lower-case e-mail, or "phone:" and the phone); one already stored, or
    added by another transaction meanwhile, is skipped.

    The unique index is on `lower(email)`, which `bulk_create(ignore_conflicts)`
    skips silently without returning ids and `pgbulk.upsert` cannot name as a
    conflict target (bench_orders_sql `customers_insert_new`: 5,000
    customers in 0.37 s; `bulk_create` and a lookup of the ids 0.82 s, 2.2x)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_customer "
            "(email, name, phone, accepts_marketing, created_at) "
            "SELECT e, n, p, false, %s "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(e, n, p) "
            "ON CONFLICT DO NOTHING RETURNING "
            "CASE WHEN email = '' THEN 'phone:' || phone ELSE lower(email) END, id",
            [now, list(emails), list(names), list(phones)],
        )
        return cursor.fetchall()


def constraints_check() -> None:
    """Check every deferred constraint (the foreign keys) written so far in
    this transaction now rather than at the commit: an import checks its
    rows before it locks stock levels, so the locks are held shorter. Django
    has no API for it (`SET CONSTRAINTS` is PostgreSQL's statement; timed
    in bench_orders_sql for the record, with no ORM to compare)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def order_tags_insert(*, order_ids: Sequence[int], tag_ids: Sequence[int]) -> None:
    """Tag orders: one row per (order, tag) pair, a pair already stored (or
    added by another transaction) skipped; in one statement with two array
    parameters, without a model instance per row (bench_orders_sql
    `order_tags_insert`: 27,500 pairs in 0.78 s; `bulk_create(ignore_conflicts)`
    2.6 s, 3.4x; `pgbulk.upsert` 4.2 s, 5.4x)."""
    table = OrderTagging._meta.db_table
    order_column = OrderTagging._meta.get_field("order").column
    tag_column = OrderTagging._meta.get_field("ordertag").column
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ("{order_column}", "{tag_column}") '
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
            "ON CONFLICT DO NOTHING",
            [list(order_ids), list(tag_ids)],
        )


# ---- customer e-mails (orders.emails); bench_email's `sql` part times each
# statement against its ORM equivalent in the same run.
