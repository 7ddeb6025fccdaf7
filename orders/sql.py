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


def customer_emails_insert_for_orders(
    *, order_ids: Sequence[int], kind: str, now: datetime
) -> list[int]:
    """Queue an e-mail of `kind` for each of the orders whose channel lets
    us mail its customers and whose customer has an address, skipping events
    already queued; return the new e-mails' ids, sorted.

    One INSERT ... SELECT; the ORM reads the orders, inserts with
    `bulk_create(ignore_conflicts)`, which returns no ids, and reads them
    back by key (bench_email `sql.queue_many`: 5,000 orders)."""
    from orders.models import CustomerEmail

    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{CustomerEmail._meta.db_table}" '
            '(order_id, kind, key, "to", context, status, '
            "attempts, last_error, subject, claimed_by, created_at) "
            "SELECT o.id, %s, concat(%s::text, ':', o.id, ':'), c.email, '{}'::jsonb, "
            "%s, 0, '', '', '', %s "
            # Joined on the ids, never `o.id = ANY(...)`: see core.lookups.IdsIn.
            "FROM unnest(%s::bigint[]) AS wanted(id) "
            "JOIN orders_order o ON o.id = wanted.id "
            "JOIN orders_customer c ON c.id = o.customer_id "
            "JOIN orders_channel ch ON ch.id = o.channel_id "
            "WHERE ch.send_customer_emails AND c.email <> '' "
            "ORDER BY o.id ON CONFLICT (key) DO NOTHING RETURNING id",
            [kind, kind, CustomerEmail.Status.QUEUED, now, list(order_ids)],
        )
        return sorted(row[0] for row in cursor.fetchall())


def customer_emails_mark_sending(
    *, pks: Sequence[int], token: str, now: datetime
) -> set[int]:
    """Mark the e-mails among `pks` still claimed by `token` `sending` (an
    attempt counted) and return their pks. The caller holds a transaction.

    One UPDATE ... RETURNING; the ORM's `update()` returns a count, so it
    needs a second SELECT, and builds both statements each time (bench_email
    `sql.mark_sending`: groups of 10, as sent)."""
    from orders.models import CustomerEmail

    status = CustomerEmail.Status
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{CustomerEmail._meta.db_table}" SET status = %s, '
            "claimed_at = %s, attempts = attempts + 1 "
            f"WHERE id IN ({marks}) AND claimed_by = %s AND status = %s RETURNING id",
            [status.SENDING, now, *pks, token, status.CLAIMED],
        )
        return {row[0] for row in cursor.fetchall()}


def customer_emails_mark_sent(
    *, subjects: Sequence[tuple[int, str]], token: str, now: datetime
) -> None:
    """Mark e-mails (pk, subject) still claimed by `token` sent, each with
    its rendered subject; the caller holds a transaction.

    One UPDATE with a CASE over the pks; the ORM's `Case(When(...))` builds
    the same statement through an expression per e-mail (bench_email
    `sql.mark_sent`: groups of 10, as sent)."""
    from orders.models import CustomerEmail

    cases = " ".join(["WHEN %s THEN %s"] * len(subjects))
    marks = ", ".join(["%s"] * len(subjects))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{CustomerEmail._meta.db_table}" SET status = %s, '
            "sent_at = %s, last_error = '', claimed_by = '', "
            f"subject = CASE id {cases} ELSE subject END "
            f"WHERE id IN ({marks}) AND claimed_by = %s",
            [
                CustomerEmail.Status.SENT,
                now,
                *(value for pair in subjects for value in pair),
                *(pk for pk, _ in subjects),
                token,
            ],
        )


def synchronous_commit_off() -> None:
    """Let the current transaction commit without waiting for its WAL to
    reach the disk: for marks whose loss in a database crash is harmless (an
    e-mail's claim, its last `sent` mark). A PostgreSQL setting Django has no
    API for (bench_email `sql.relaxed_commit`: claim commits with and
    without)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
