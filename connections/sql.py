"""The connections app's raw SQL: the statements the ORM cannot say as cheaply.

Each statement is timed against its ORM twin in `tests/bench/bench_inbox_sql.py`
(one run, ORM and raw side by side):

- `inbound_insert_unless_seen`: store a message in one statement that neither
  fails nor needs a savepoint when its delivery id or key was seen (`save()`
  raises an IntegrityError, which inside a transaction needs a savepoint: three
  round trips instead of one, and `bulk_create(ignore_conflicts=True)` gives
  no id back);
- `inbound_outcomes_save`: one UPDATE … FROM unnest for a batch's outcomes
  (`bulk_update` builds a CASE per row and field, more CPU than the batch);
- `api_order_or_number`: the channel's order, the message that took it in, and
  a new order number (`nextval`) when neither exists, in one round trip (the
  ORM needs two reads and has no sequence API).

And the customer e-mails' marks, timed in `tests/bench/bench_email.py`
(`sql.*`: the raw statement and its ORM twin, as sent):

- `emails_insert_for_orders`: one INSERT ... SELECT per event for any number
  of orders; the ORM reads the orders, inserts with
  `bulk_create(ignore_conflicts)`, which returns no ids, and reads them back;
- `emails_mark_sending`: one UPDATE ... RETURNING (the ORM's `update()`
  returns a count: a second SELECT, both statements built each time);
- `emails_mark_sent`: one UPDATE with a CASE over the pks (the ORM's
  `Case(When(...))` builds an expression per e-mail);
- `synchronous_commit_off`: a PostgreSQL setting Django has no API for.
"""

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    InterfaceError,
    OperationalError,
    connection,
    connections,
    router,
)

from connections.models import InboundMessage, OutboundMessage
from orders.models import Order

T = TypeVar("T")


def fetch_one(connection, sql: str, params: Sequence[Any], *, repeatable: bool):
    """Run one statement and return its first row.

    Outside a transaction, a `repeatable` statement stands in for Django's
    health check of a kept connection (a `SELECT 1` round trip before a
    request's first statement, half of a webhook's acknowledgement): should
    the statement find the connection broken (the database restarted, an idle
    connection cut), the connection is replaced and the statement run again.
    """
    trusted = (
        repeatable
        and connection.health_check_enabled
        and not connection.health_check_done
        and connection.connection is not None
        and not connection.in_atomic_block
    )
    if trusted:
        connection.health_check_done = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        if not trusted or connection.is_usable():
            raise
        connection.close()  # the next cursor connects anew
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def read_first(read: Callable[[], T], *, using: str = "default") -> T:
    """Run `read()` (reads only, so it may run twice) as a request's first
    statement, standing in for Django's health check as `fetch_one` does: a
    webhook's channel and an API request's key are read on every request
    (nothing kept per process), without a `SELECT 1` round trip before."""
    connection = connections[using]
    trusted = (
        connection.health_check_enabled
        and not connection.health_check_done
        and connection.connection is not None
        and not connection.in_atomic_block
    )
    if trusted:
        connection.health_check_done = True
    try:
        return read()
    except (OperationalError, InterfaceError):
        if not trusted or connection.is_usable():
            raise
        connection.close()  # the next cursor connects anew
    return read()


# The INSERT statement per database alias (its text never changes).
_insert_sql: dict[str, str] = {}


def inbound_insert_unless_seen(message: InboundMessage) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new id, or None when a
    unique constraint (delivery id, idempotency key) already holds the row."""
    meta = InboundMessage._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for f in fields:
        f.pre_save(message, add=True)
    connection = connections[router.db_for_write(InboundMessage)]
    sql = _insert_sql.get(connection.alias)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _insert_sql[connection.alias] = (
            f"INSERT INTO {quote(meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
    params = [
        f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields
    ]
    # A repeated statement changes nothing when the message has a delivery id
    # or an idempotency key (the unique constraints hold the first one).
    repeatable = bool(message.delivery_id or message.idempotency_key)
    row = fetch_one(connection, sql, params, repeatable=repeatable)
    if row is None:
        return None
    message._state.adding = False
    message._state.db = connection.alias
    return row[0]


def inbound_outcomes_save(messages: Sequence[InboundMessage]) -> None:
    """Record what processing did on many messages: one UPDATE from arrays, a
    constant statement cheap to build."""
    if not messages:
        return
    connection = connections[router.db_for_write(InboundMessage)]
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = v.status, error = v.error, "
            "order_id = v.order_id, processed_at = v.processed_at, "
            "attempts = v.attempts, external_id = v.external_id "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], "
            "%s::timestamptz[], %s::integer[], %s::text[]) "
            "AS v(id, status, error, order_id, processed_at, attempts, external_id) "
            "WHERE m.id = v.id",
            [
                [m.pk for m in messages],
                [m.status for m in messages],
                [m.error for m in messages],
                [m.order_id for m in messages],
                [m.processed_at for m in messages],
                [m.attempts for m in messages],
                [m.external_id for m in messages],
            ],
        )


def api_order_or_number(
    *, channel_id: int, external_id: str, delivery_id: str, sequence: str
) -> tuple[int | None, int | None, int | None]:
    """The id of the channel's order with this external id, the id of the API
    message that took it in (by its `delivery_id`), and, only when both are
    None, the next value of the PostgreSQL `sequence` (as `sequence_reserve`
    draws it, waiting for no one): one statement."""
    connection = connections[router.db_for_write(Order)]
    quote = connection.ops.quote_name
    orders, messages = Order._meta.db_table, InboundMessage._meta.db_table
    # CASE draws the number only when neither was found.
    sql = (
        "SELECT found.order_id, found.message_id, "
        "CASE WHEN found.order_id IS NULL AND found.message_id IS NULL "
        "THEN nextval(%s::regclass) END "
        f"FROM (SELECT (SELECT {quote('id')} FROM {quote(orders)} "
        f"WHERE {quote('channel_id')} = %s AND {quote('external_id')} = %s) "
        "AS order_id, "
        f"(SELECT {quote('id')} FROM {quote(messages)} "
        f"WHERE {quote('channel_id')} = %s AND {quote('source')} = %s "
        f"AND {quote('delivery_id')} = %s) AS message_id) AS found"
    )
    params = [
        sequence,
        channel_id,
        external_id,
        channel_id,
        InboundMessage.Source.API.value,
        delivery_id,
    ]
    # Run again on a connection found broken, it reserves at most one number
    # more: it stands in for the connection's health check (`fetch_one`).
    order_id, message_id, last = fetch_one(connection, sql, params, repeatable=True)
    return order_id, message_id, last


EMAIL = "email"
Status = OutboundMessage.Status


def emails_insert_for_orders(
    *,
    order_ids: Sequence[int],
    kind: str,
    key: str,
    context: dict[str, Any],
    attempts: int,
    now: datetime,
) -> list[int]:
    """Queue an e-mail of `kind` (`email.<EmailKind>`) for each of the orders
    whose channel lets us mail its customers and whose customer has an
    address, skipping events already queued (the unique channel, kind and
    key); return the new messages' ids, sorted."""
    table = OutboundMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (channel_id, platform, kind, dedupe_key, '
            "order_id, payload, message_id, status, attempts, attempts_left, "
            'next_attempt_at, last_error, remote_id, "to", subject, claimed_by, '
            "created_at, updated_at) "
            "SELECT o.channel_id, %s, %s, concat(o.id, ':', %s::text), o.id, "
            "%s::jsonb, '', %s, 0, %s, %s, '', '', c.email, '', '', %s, %s "
            # Joined on the ids, never `o.id = ANY(...)`: see core.lookups.IdsIn.
            "FROM unnest(%s::bigint[]) AS wanted(id) "
            "JOIN orders_order o ON o.id = wanted.id "
            "JOIN orders_customer c ON c.id = o.customer_id "
            "JOIN orders_channel ch ON ch.id = o.channel_id "
            "WHERE ch.send_customer_emails AND c.email <> '' "
            "ORDER BY o.id ON CONFLICT DO NOTHING RETURNING id",
            [
                EMAIL,
                kind,
                key,
                json.dumps(context, cls=DjangoJSONEncoder),
                Status.PENDING,
                attempts,
                now,
                now,
                now,
                list(order_ids),
            ],
        )
        return sorted(row[0] for row in cursor.fetchall())


def emails_mark_sending(
    *, pks: Sequence[int], token: str, now: datetime, lease_until: datetime
) -> set[int]:
    """Mark the e-mails among `pks` still claimed by `token` `sending` (an
    attempt counted, the lease renewed) and return their pks. The caller
    holds a transaction."""
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{OutboundMessage._meta.db_table}" SET status = %s, '
            "next_attempt_at = %s, updated_at = %s, attempts = attempts + 1, "
            "attempts_left = greatest(attempts_left - 1, 0) "
            f"WHERE id IN ({marks}) AND claimed_by = %s AND status = %s RETURNING id",
            [Status.SENDING, lease_until, now, *pks, token, Status.CLAIMED],
        )
        return {row[0] for row in cursor.fetchall()}


def emails_mark_sent(
    *, subjects: Sequence[tuple[int, str]], token: str, now: datetime
) -> set[int]:
    """Mark e-mails (pk, subject) still held by `token` sent, each with its
    rendered subject, and return their pks; the caller holds a transaction."""
    cases = " ".join(["WHEN %s THEN %s"] * len(subjects))
    marks = ", ".join(["%s"] * len(subjects))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{OutboundMessage._meta.db_table}" SET status = %s, '
            "sent_at = %s, updated_at = %s, next_attempt_at = NULL, "
            "last_error = '', claimed_by = '', "
            f"subject = CASE id {cases} ELSE subject END "
            f"WHERE id IN ({marks}) AND claimed_by = %s RETURNING id",
            [
                Status.SENT,
                now,
                now,
                *(value for pair in subjects for value in pair),
                *(pk for pk, _ in subjects),
                token,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def synchronous_commit_off() -> None:
    """Let the current transaction commit without waiting for its WAL to
    reach the disk: for marks whose loss in a database crash is harmless (an
    e-mail's claim, its last `sent` mark)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
