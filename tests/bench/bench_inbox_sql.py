"""Benchmark: the inbox's raw statements (connections/sql.py) against their
ORM twins, side by side in one run on PostgreSQL.

1. `inbound_insert_unless_seen` (INSERT … ON CONFLICT DO NOTHING RETURNING id)
   against `save()` with the IntegrityError of a seen delivery caught: outside
   a transaction (a webhook's acknowledgement) and inside one (where the ORM
   needs a savepoint round trip before and after); new and repeated
   deliveries.
2. `inbound_outcomes_save` (one UPDATE … FROM unnest) against `bulk_update`
   for a drained batch of `--batch` messages.
3. `api_order_or_number` (the order, the message that took it in and a new
   number in one statement) against the ORM's two reads and
   `sequence_reserve`.

Prints JSON: microseconds per operation and statements per operation, each
pair measured in the same run (numbers on a shared machine are noisy; the
ratios are what to read). The ORM's insert is as fast outside a transaction
(one statement either way), but a repeated delivery then fails in the
database (an error logged, a dead row left behind) and inside a transaction
it needs a savepoint around it: three round trips instead of one.

    python tests/bench/bench_inbox_sql.py [--rounds 2000] [--batch 100]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402


def timed(function, rounds: int) -> dict:
    """Run `function(n)` for n in range(rounds): µs and statements per call."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        function(-1)  # warm up (and count the statements of one call)
    statements = len(queries.captured_queries)
    started = time.perf_counter()
    for n in range(rounds):
        function(n)
    seconds = time.perf_counter() - started
    return {
        "us_per_call": round(seconds / rounds * 1e6, 1),
        "statements_per_call": statements,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database", default="oms_bench_inbox_sql")
    options = parser.parse_args()
    bench_django(options.database)

    from django.conf import settings
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from connections.inbox.messages import api_delivery_id
    from connections.models import InboundMessage
    from connections.sql import (
        api_order_or_number,
        inbound_insert_unless_seen,
        inbound_outcomes_save,
    )
    from core.sequences import sequence_relation, sequence_reserve
    from orders.models import Channel, Order

    settings.DEBUG = False  # no query log kept outside the counted calls
    channel = Channel.objects.create(code="bench", name="Bench")
    source = InboundMessage.Source.SHOPIFY

    def message(delivery: str) -> InboundMessage:
        return InboundMessage(
            channel=channel,
            source=source,
            topic="orders/create",
            delivery_id=delivery,
            body='{"name": "#1"}',
            headers={"X-Shopify-Topic": "orders/create"},
        )

    def raw_insert(prefix):
        def insert(n):
            inbound_insert_unless_seen(message(f"{prefix}-{n}"))

        return insert

    def orm_insert(prefix, *, in_transaction=False):
        def save(n):
            try:
                if in_transaction:
                    with transaction.atomic():
                        message(f"{prefix}-{n}").save()
                else:
                    message(f"{prefix}-{n}").save()
            except IntegrityError:
                InboundMessage.objects.filter(
                    channel=channel, source=source, delivery_id=f"{prefix}-{n}"
                ).first()

        return save

    def raw_insert_seen(prefix):
        def insert(n):
            if inbound_insert_unless_seen(message(f"{prefix}-{n}")) is None:
                InboundMessage.objects.filter(
                    channel=channel, source=source, delivery_id=f"{prefix}-{n}"
                ).first()

        return insert

    rounds = options.rounds
    insert = {
        "raw_new": timed(raw_insert("raw"), rounds),
        "orm_new": timed(orm_insert("orm"), rounds),
        "raw_repeated": timed(raw_insert_seen("raw"), rounds),
        "orm_repeated": timed(orm_insert("orm"), rounds),
    }
    with transaction.atomic():
        insert["raw_new_in_transaction"] = timed(raw_insert("raw-t"), rounds)
        insert["orm_new_in_transaction"] = timed(
            orm_insert("orm-t", in_transaction=True), rounds
        )
        insert["raw_repeated_in_transaction"] = timed(raw_insert_seen("raw-t"), rounds)
        insert["orm_repeated_in_transaction"] = timed(
            orm_insert("orm-t", in_transaction=True), rounds
        )

    messages = list(InboundMessage.objects.order_by("pk")[: options.batch])
    fields = ["status", "error", "order", "processed_at", "attempts", "external_id"]

    def outcomes(n):
        now = timezone.now()
        for m in messages:
            m.status, m.error, m.processed_at = "processed", f"n{n}", now
            m.attempts = (m.attempts + 1) % 30000
            m.external_id = f"#{m.pk}"

    def raw_update(n):
        outcomes(n)
        inbound_outcomes_save(messages)

    def orm_update(n):
        outcomes(n)
        InboundMessage.objects.bulk_update(messages, fields)

    batches = max(rounds // 20, 10)
    update = {
        "batch": len(messages),
        "raw": timed(raw_update, batches),
        "orm_bulk_update": timed(orm_update, batches),
    }

    def raw_lookup(n):
        api_order_or_number(
            channel_id=channel.pk,
            external_id=f"E-{n}",
            delivery_id=api_delivery_id(f"E-{n}"),
            sequence=sequence_relation("order"),
        )

    def orm_lookup(n):
        order_id = (
            Order.objects.filter(channel=channel, external_id=f"E-{n}")
            .values_list("pk", flat=True)
            .first()
        )
        message_id = (
            InboundMessage.objects.filter(
                channel=channel,
                source=InboundMessage.Source.API,
                delivery_id=api_delivery_id(f"E-{n}"),
            )
            .values_list("pk", flat=True)
            .first()
        )
        if order_id is None and message_id is None:
            sequence_reserve(name="order")

    lookup = {
        "raw": timed(raw_lookup, rounds),
        "orm": timed(orm_lookup, rounds),
    }
    emit(
        {
            "benchmark": "inbox_sql",
            "rounds": rounds,
            "inbound_insert_unless_seen": insert,
            "inbound_outcomes_save": update,
            "api_order_or_number": lookup,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


if __name__ == "__main__":
    main()
