"""Benchmark: customer e-mails per second for one worker, to a real SMTP server.

An aiosmtpd server runs in its own process on localhost. N "order received"
e-mails are queued the way an import queues them (in bulk, tasks enqueued
in chunks on the database queue); then this process runs the queued tasks
one after the other, as one `manage.py worker` would, and the time until the
last e-mail is sent gives e-mails/s. Checks that the server received every
e-mail exactly once. In the same run, for comparison, as many e-mails again
are sent the way they were before batching: one by one, each in a
transaction holding its row lock, each over a new SMTP connection. Then
each raw statement of `orders.sql` the e-mails use is timed against its ORM
equivalent (`sql`). Prints JSON.

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

    from orders import events
    from orders.emails import customer_emails_render
    from orders.models import CustomerEmail

    for email_id in email_ids:
        with transaction.atomic():
            email = CustomerEmail.objects.select_for_update().get(pk=email_id)
            message = customer_emails_render([email])[email.pk]
            message.send()
            email.status, email.sent_at = "sent", timezone.now()
            email.attempts += 1
            email.save(update_fields=["status", "sent_at", "attempts", "subject"])
            events.order_event_email(
                order=email.order, message="sent", data={"email": email.pk}
            )


def run_queued_tasks() -> int:
    """Run every ready customer-e-mail task in this process, oldest first."""
    from django.db import connection
    from procrastinate.contrib.django.models import ProcrastinateJob

    from orders.emails.queue import customer_emails_send_task

    ran = 0
    while True:
        batch = list(
            ProcrastinateJob.objects.filter(
                status="todo", task_name__endswith="customer_emails_send_task"
            ).order_by("id")[:50]
        )
        if not batch:
            return ran
        for job in batch:
            customer_emails_send_task(**job.args)
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
        from orders.emails import queue

        self.saved = queue.customer_emails_send_on_commit
        queue.customer_emails_send_on_commit = lambda *, email_ids: None

    def __exit__(self, *exc_info):
        from orders.emails import queue

        queue.customer_emails_send_on_commit = self.saved


def queue_many_orm(order_ids: list[int], kind: str) -> list[int]:
    """`sql.customer_emails_insert_for_orders` through the ORM (for comparison)."""
    from orders.models import CustomerEmail, Order

    rows = list(
        Order.objects.filter(pk__in=order_ids, channel__send_customer_emails=True)
        .exclude(customer__email="")
        .values_list("pk", "customer__email")
    )
    keys = [f"{kind}:{pk}:" for pk, _ in rows]
    CustomerEmail.objects.bulk_create(
        (
            CustomerEmail(order_id=pk, kind=kind, key=key, to=email)
            for (pk, email), key in zip(rows, keys, strict=True)
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )
    return sorted(
        CustomerEmail.objects.filter(
            key__in=keys, status=CustomerEmail.Status.QUEUED
        ).values_list("pk", flat=True)
    )


def mark_sending_orm(pks: list[int], token: str, now) -> set[int]:
    """`sql.customer_emails_mark_sending` through the ORM (for comparison)."""
    from django.db.models import F

    from orders.models import CustomerEmail

    status = CustomerEmail.Status
    CustomerEmail.objects.filter(
        pk__in=pks, claimed_by=token, status=status.CLAIMED
    ).update(status=status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return set(
        CustomerEmail.objects.filter(
            pk__in=pks, claimed_by=token, status=status.SENDING
        ).values_list("pk", flat=True)
    )


def mark_sent_orm(subjects: list[tuple[int, str]], token: str, now) -> None:
    """`sql.customer_emails_mark_sent` through the ORM (for comparison)."""
    from django.db.models import Case, Value, When

    from orders.models import CustomerEmail

    CustomerEmail.objects.filter(
        pk__in=[pk for pk, _ in subjects], claimed_by=token
    ).update(
        status=CustomerEmail.Status.SENT,
        sent_at=now,
        last_error="",
        claimed_by="",
        subject=Case(
            *(When(pk=pk, then=Value(subject)) for pk, subject in subjects),
            default="subject",
        ),
    )


def compare_sql(count: int, rounds: int = 3) -> dict:
    """Each statement of `orders.sql` the e-mails use against the ORM, in
    the same run, alternating, inside transactions rolled back: median ms."""
    import statistics

    from django.db import transaction
    from django.utils import timezone

    from orders import sql
    from orders.models import CustomerEmail

    order_ids = build_orders(count, prefix="SQL")
    kind = CustomerEmail.Kind.RECEIVED
    timings: dict[str, list[float]] = {}

    def timed(name: str, run) -> None:
        started = time.perf_counter()
        run()
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    for _ in range(rounds):
        for name, run in (
            (
                "raw",
                lambda: sql.customer_emails_insert_for_orders(
                    order_ids=order_ids, kind=kind, now=timezone.now()
                ),
            ),
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
                ids = sql.customer_emails_insert_for_orders(
                    order_ids=order_ids, kind=kind, now=timezone.now()
                )
                CustomerEmail.objects.filter(pk__in=ids).update(
                    status=CustomerEmail.Status.CLAIMED, claimed_by="bench"
                )
                groups = [ids[start : start + 10] for start in range(0, len(ids), 10)]
                now = timezone.now()
                started = time.perf_counter()
                for group in groups:
                    if sending is None:
                        sql.customer_emails_mark_sending(
                            pks=group, token="bench", now=now
                        )
                    else:
                        sending(group, "bench", now)
                timings.setdefault(f"mark_sending_{name}", []).append(
                    (time.perf_counter() - started) * 1000 / len(groups)
                )
                started = time.perf_counter()
                for group in groups:
                    subjects = [(pk, f"Order {pk}") for pk in group]
                    if sent is None:
                        sql.customer_emails_mark_sent(
                            subjects=subjects, token="bench", now=now
                        )
                    else:
                        sent(subjects, "bench", now)
                timings.setdefault(f"mark_sent_{name}", []).append(
                    (time.perf_counter() - started) * 1000 / len(groups)
                )
                transaction.set_rollback(True)
    # Small commits (a claim of ten rows each), durable and relaxed.
    sql.customer_emails_insert_for_orders(
        order_ids=order_ids, kind=kind, now=timezone.now()
    )
    for round_number in range(rounds):
        for relaxed in (False, True):
            token = f"bench-{round_number}-{relaxed}"
            started = time.perf_counter()
            for start in range(0, 2000, 10):
                with transaction.atomic():
                    if relaxed:
                        sql.synchronous_commit_off()
                    CustomerEmail.objects.filter(
                        order_id__in=order_ids[start : start + 10]
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
        help="skip timing orders.sql's e-mail statements against the ORM",
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
        from orders.models import CustomerEmail

        order_ids = build_orders(options.emails)
        started = time.perf_counter()
        with transaction.atomic():
            queued = customer_emails_queue_many(
                order_ids=order_ids, kind=CustomerEmail.Kind.RECEIVED
            )
        queue_seconds = time.perf_counter() - started

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
        sent = CustomerEmail.objects.filter(status="sent").count()
        received, connections = server.count.value, server.sessions.value

        # The same number again, the way before batching.
        pending, old_seconds, old_connections = [], 0.0, 0
        if options.one_by_one:
            old_ids = build_orders(options.emails, prefix="OLD")
            with send_tasks_paused(), transaction.atomic():
                customer_emails_queue_many(
                    order_ids=old_ids, kind=CustomerEmail.Kind.RECEIVED
                )
            pending = list(
                CustomerEmail.objects.filter(status="queued").values_list(
                    "pk", flat=True
                )
            )
            started = time.perf_counter()
            send_one_by_one(pending)
            old_seconds = time.perf_counter() - started
            old_connections = server.sessions.value - connections
        # orders.sql's e-mail statements against the ORM, on their own orders
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
