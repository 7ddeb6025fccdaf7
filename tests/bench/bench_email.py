"""Benchmark: customer e-mails per second for one worker, to a real SMTP server.

An aiosmtpd server runs in its own process on localhost. N "order received"
e-mails are queued the way an import queues them (in bulk, as messages of
the one outbox, platform `email`, their sending tasks enqueued in chunks on
the database queue after the commit); then this process runs the queued
tasks (`outbox_send_many_task`) one after the other, as one `manage.py
worker` would, and the time until the last e-mail is sent gives e-mails/s.
Checks that the server received every e-mail exactly once. In the same run,
for comparison, as many e-mails again are sent the way they were before
batching: one by one, each in a transaction holding its row lock, each over
a new SMTP connection. Then each raw statement of `connections.sql` the
e-mails use is timed against its ORM equivalent (`sql`). Prints JSON.

    python tests/bench/bench_email.py [--emails 5000] [--no-sql]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402
from tests.support.smtp import SmtpSinkProcess  # noqa: E402


def build_orders(count: int, prefix: str = "MAIL") -> list[int]:
    """`count` orders of two lines each, one customer per order."""
    from decimal import Decimal

    from django.utils import timezone

    from core.sequences import format_number, sequence_reserve
    from inventory.models import Product
    from orders.models import Channel, Customer, Order, OrderLine

    channel, _ = Channel.objects.get_or_create(code="bench", name="Bench")
    products = Product.objects.bulk_create(
        Product(sku=f"{prefix}-{n:03d}", name=f"Mail product {n}") for n in range(50)
    )
    customers = Customer.objects.bulk_create(
        Customer(email=f"{prefix.lower()}{n}@example.com", name=f"Customer {n}")
        for n in range(count)
    )
    numbers = sequence_reserve(name="order", count=count)
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            number=format_number("SO", number),
            channel=channel,
            external_id=f"{prefix}-{number}",
            customer=customer,
            ship_name=customer.name,
            ship_address1="1 Main St",
            ship_city="Austin",
            ship_postcode="78701",
            ship_country="US",
            placed_at=now,
        )
        for number, customer in zip(numbers, customers, strict=True)
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=1 + n % 3,
            unit_price=Decimal("12.50"),
            total=Decimal("12.50") * (1 + n % 3),
        )
        for order in orders
        for n, product in enumerate(products[order.pk % 48 : order.pk % 48 + 2])
    )
    return [order.pk for order in orders]


def send_one_by_one(email_ids: list[int]) -> None:
    """The path before batching (for comparison only): per e-mail, lock its
    row, render it, send it over a new connection, mark it sent."""
    from django.db import transaction
    from django.utils import timezone

    from connections.models import OutboundMessage
    from connections.outbox.email import _to_send
    from orders import events
    from orders.emails import customer_emails_render

    for email_id in email_ids:
        with transaction.atomic():
            row = OutboundMessage.objects.select_for_update().get(pk=email_id)
            email = _to_send(row)
            message = customer_emails_render([email])[email.pk]
            message.send()
            row.status, row.sent_at = "sent", timezone.now()
            row.attempts += 1
            row.attempts_left = max(0, row.attempts_left - 1)
            row.subject = email.subject
            row.next_attempt_at = None
            row.save(
                update_fields=[
                    "status",
                    "sent_at",
                    "attempts",
                    "attempts_left",
                    "subject",
                    "next_attempt_at",
                ]
            )
            events.order_event_email(
                order=email.order, message="sent", data={"email": email.pk}
            )


def run_queued_tasks() -> int:
    """Run every ready outbox sending task in this process, oldest first."""
    from django.db import connection
    from procrastinate.contrib.django.models import ProcrastinateJob

    from connections.outbox.sending import outbox_send_many_task

    ran = 0
    while True:
        batch = list(
            ProcrastinateJob.objects.filter(
                status="todo", task_name__endswith="outbox_send_many_task"
            ).order_by("id")[:50]
        )
        if not batch:
            return ran
        for job in batch:
            outbox_send_many_task(**job.args)
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.pk])
            ran += 1


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of another process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class send_tasks_paused:  # noqa: N801 - reads as a context manager
    """Queue e-mails without their send tasks (the old path sends them here)."""

    def __enter__(self):
        from connections.outbox import handlers

        self.saved = handlers.send_on_commit
        handlers.send_on_commit = lambda message_ids, **kwargs: None

    def __exit__(self, *exc_info):
        from connections.outbox import handlers

        handlers.send_on_commit = self.saved


def email_ids(**filters) -> list[int]:
    """The customer e-mails in the outbox (platform `email`), by pk."""
    from connections.models import OutboundMessage

    return list(
        OutboundMessage.objects.filter(platform="email", **filters)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def queue_many_orm(order_ids: list[int], kind: str, key: str = "") -> list[int]:
    """`sql.emails_insert_for_orders` through the ORM (for comparison)."""
    from django.utils import timezone

    from connections.models import OutboundMessage
    from connections.outbox.rules import max_attempts
    from orders.models import Order

    now = timezone.now()
    rows = list(
        Order.objects.filter(pk__in=order_ids, channel__send_customer_emails=True)
        .exclude(customer__email="")
        .order_by("pk")
        .values_list("pk", "channel_id", "customer__email")
    )
    keys = [f"{pk}:{key}" for pk, _, _ in rows]
    OutboundMessage.objects.bulk_create(
        (
            OutboundMessage(
                channel_id=channel_id,
                platform="email",
                kind=kind,
                dedupe_key=dedupe_key,
                order_id=pk,
                payload={},
                status=OutboundMessage.Status.PENDING,
                attempts_left=max_attempts(),
                next_attempt_at=now,
                to=email,
            )
            for (pk, channel_id, email), dedupe_key in zip(rows, keys, strict=True)
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )
    # bulk_create(ignore_conflicts) returns no ids: read them back.
    return sorted(
        OutboundMessage.objects.filter(
            kind=kind, dedupe_key__in=keys, status=OutboundMessage.Status.PENDING
        ).values_list("pk", flat=True)
    )


def mark_sending_orm(pks: list[int], token: str, now, lease_until) -> set[int]:
    """`sql.emails_mark_sending` through the ORM (for comparison)."""
    from django.db.models import F, Value
    from django.db.models.functions import Greatest

    from connections.models import OutboundMessage

    status = OutboundMessage.Status
    OutboundMessage.objects.filter(
        pk__in=pks, claimed_by=token, status=status.CLAIMED
    ).update(
        status=status.SENDING,
        next_attempt_at=lease_until,
        updated_at=now,
        attempts=F("attempts") + 1,
        attempts_left=Greatest(F("attempts_left") - 1, Value(0)),
    )
    return set(
        OutboundMessage.objects.filter(
            pk__in=pks, claimed_by=token, status=status.SENDING
        ).values_list("pk", flat=True)
    )


def mark_sent_orm(subjects: list[tuple[int, str]], token: str, now) -> None:
    """`sql.emails_mark_sent` through the ORM (for comparison)."""
    from django.db.models import Case, F, Value, When

    from connections.models import OutboundMessage

    OutboundMessage.objects.filter(
        pk__in=[pk for pk, _ in subjects], claimed_by=token
    ).update(
        status=OutboundMessage.Status.SENT,
        sent_at=now,
        updated_at=now,
        next_attempt_at=None,
        last_error="",
        claimed_by="",
        subject=Case(
            *(When(pk=pk, then=Value(subject)) for pk, subject in subjects),
            default=F("subject"),
        ),
    )


def compare_sql(count: int, rounds: int = 3) -> dict:
    """Each statement of `connections.sql` the e-mails use against the ORM,
    in the same run, alternating, inside transactions rolled back: median ms."""
    import statistics
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from connections import sql
    from connections.models import OutboundMessage
    from connections.outbox.email import email_kind
    from connections.outbox.rules import max_attempts
    from orders.models import EmailKind

    order_ids = build_orders(count, prefix="SQL")
    kind = email_kind(EmailKind.RECEIVED)

    def insert() -> list[int]:
        return sql.emails_insert_for_orders(
            order_ids=order_ids,
            kind=kind,
            key="",
            context={},
            attempts=max_attempts(),
            now=timezone.now(),
        )

    timings: dict[str, list[float]] = {}

    def timed(name: str, run) -> None:
        started = time.perf_counter()
        run()
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    for _ in range(rounds):
        for name, run in (
            ("raw", insert),
            ("orm", lambda: queue_many_orm(order_ids, kind)),
        ):
            with transaction.atomic():
                timed(f"queue_many_{name}", run)
                transaction.set_rollback(True)
        for name, sending, sent in (
            ("raw", None, None),
            ("orm", mark_sending_orm, mark_sent_orm),
        ):
            with transaction.atomic():
                ids = insert()
                OutboundMessage.objects.filter(pk__in=ids).update(
                    status=OutboundMessage.Status.CLAIMED, claimed_by="bench"
                )
                groups = [ids[start : start + 10] for start in range(0, len(ids), 10)]
                now = timezone.now()
                lease = now + timedelta(minutes=2)
                started = time.perf_counter()
                for group in groups:
                    if sending is None:
                        sql.emails_mark_sending(
                            pks=group, token="bench", now=now, lease_until=lease
                        )
                    else:
                        sending(group, "bench", now, lease)
                timings.setdefault(f"mark_sending_{name}", []).append(
                    (time.perf_counter() - started) * 1000 / len(groups)
                )
                started = time.perf_counter()
                for group in groups:
                    subjects = [(pk, f"Order {pk}") for pk in group]
                    if sent is None:
                        sql.emails_mark_sent(subjects=subjects, token="bench", now=now)
                    else:
                        sent(subjects, "bench", now)
                timings.setdefault(f"mark_sent_{name}", []).append(
                    (time.perf_counter() - started) * 1000 / len(groups)
                )
                transaction.set_rollback(True)
    # Small commits (a claim of ten rows each), durable and relaxed.
    insert()
    for round_number in range(rounds):
        for relaxed in (False, True):
            token = f"bench-{round_number}-{relaxed}"
            started = time.perf_counter()
            for start in range(0, 2000, 10):
                with transaction.atomic():
                    if relaxed:
                        sql.synchronous_commit_off()
                    OutboundMessage.objects.filter(
                        platform="email", order_id__in=order_ids[start : start + 10]
                    ).update(claimed_by=token)
            name = "commit_relaxed" if relaxed else "commit_durable"
            timings.setdefault(name, []).append(
                (time.perf_counter() - started) * 1000 / 200
            )
    medians = {
        name: round(statistics.median(values), 3) for name, values in timings.items()
    }
    return {
        "orders": count,
        "queue_many_ms": {
            "raw": medians["queue_many_raw"],
            "orm": medians["queue_many_orm"],
        },
        "mark_sending_ms_per_group_of_10": {
            "raw": medians["mark_sending_raw"],
            "orm": medians["mark_sending_orm"],
        },
        "mark_sent_ms_per_group_of_10": {
            "raw": medians["mark_sent_raw"],
            "orm": medians["mark_sent_orm"],
        },
        "commit_ms_claim_of_10": {
            "synchronous_commit_off": medians["commit_relaxed"],
            "durable": medians["commit_durable"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument(
        "--database",
        default="oms_bench_email",
        help="PostgreSQL database to (re)create",
    )
    parser.add_argument(
        "--no-sql",
        dest="sql",
        action="store_false",
        help="skip timing connections.sql's e-mail statements against the ORM",
    )
    parser.add_argument(
        "--no-one-by-one",
        dest="one_by_one",
        action="store_false",
        help="skip sending as many again one by one (the path before batching)",
    )
    options = parser.parse_args()

    with SmtpSinkProcess() as server:
        os.environ.update(
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(server.port),
            EMAIL_USE_TLS="0",
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            OMS_TASKS_BACKEND="database",
        )
        bench_django(options.database)
        from django.db import transaction

        from orders.emails import customer_emails_queue_many
        from orders.models import EmailKind

        order_ids = build_orders(options.emails)
        started = time.perf_counter()
        with transaction.atomic():
            customer_emails_queue_many(order_ids=order_ids, kind=EmailKind.RECEIVED)
        queue_seconds = time.perf_counter() - started
        queued = len(email_ids())

        server_cpu_before = process_cpu_seconds(server.process.pid)
        started, cpu_started = time.perf_counter(), time.process_time()
        tasks = run_queued_tasks()
        send_seconds = time.perf_counter() - started
        sender_cpu = time.process_time() - cpu_started
        server_cpu_after = process_cpu_seconds(server.process.pid)
        server_cpu = None
        if server_cpu_before is not None and server_cpu_after is not None:
            server_cpu = round(
                (server_cpu_after - server_cpu_before) / queued * 1000, 3
            )
        deadline = time.monotonic() + 10
        while server.count.value < queued and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = len(email_ids(status="sent"))
        received, connections = server.count.value, server.sessions.value

        # The same number again, the way before batching.
        pending, old_seconds, old_connections = [], 0.0, 0
        if options.one_by_one:
            old_ids = build_orders(options.emails, prefix="OLD")
            with send_tasks_paused(), transaction.atomic():
                customer_emails_queue_many(order_ids=old_ids, kind=EmailKind.RECEIVED)
            pending = email_ids(status="pending")
            started = time.perf_counter()
            send_one_by_one(pending)
            old_seconds = time.perf_counter() - started
            old_connections = server.sessions.value - connections
        # connections.sql's e-mail statements against the ORM, on their own orders
        # (the customer e-mails queued above are not touched).
        statements = compare_sql(options.emails) if options.sql else None

    emit(
        {
            "benchmark": "email",
            "emails": options.emails,
            "queued": queued,
            "queue_seconds": round(queue_seconds, 2),
            "tasks": tasks,
            "send_seconds": round(send_seconds, 2),
            "emails_per_second": round(sent / send_seconds, 1),
            "marked_sent": sent,
            "received_by_server": received,
            "smtp_connections": connections,
            "received_exactly_once": received == sent == queued,
            # CPU time per e-mail: a noisy machine stretches the wall clock,
            # much less these (the sender is this worker process).
            "worker_cpu_ms_per_email": round(sender_cpu / queued * 1000, 3),
            "smtp_server_cpu_ms_per_email": server_cpu,
            "one_by_one_before_batching": {
                "emails": len(pending),
                "seconds": round(old_seconds, 2) if pending else None,
                "emails_per_second": round(len(pending) / old_seconds, 1)
                if pending
                else None,
                "smtp_connections": old_connections,
            },
            "sql": statements,
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    if not received == sent == queued:
        sys.exit(1)


if __name__ == "__main__":
    main()
