"""Benchmark: customer e-mails per second for one worker, to a real SMTP server.

An aiosmtpd server runs in its own process on localhost. N "order received"
e-mails are queued the way an import queues them (in bulk, tasks enqueued
in chunks on the database queue); then this process runs the queued tasks
one after the other, as one `manage.py worker` would, and the time until the
last e-mail is sent gives e-mails/s. Checks that the server received every
e-mail exactly once. In the same run, for comparison, as many e-mails again
are sent the way they were before batching: one by one, each in a
transaction holding its row lock, each over a new SMTP connection. Prints
JSON.

    python tests/bench/bench_email.py [--emails 5000]
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
    from orders.emails import _render_batch
    from orders.models import CustomerEmail

    for email_id in email_ids:
        with transaction.atomic():
            email = CustomerEmail.objects.select_for_update().get(pk=email_id)
            message = _render_batch([email])[email.pk]
            message.send()
            email.status, email.sent_at = "sent", timezone.now()
            email.attempts += 1
            email.save(update_fields=["status", "sent_at", "attempts", "subject"])
            events.order_event_email(
                order=email.order, message="sent", data={"email": email.pk}
            )


def run_queued_tasks() -> int:
    """Run every ready customer-e-mail task in this process, oldest first."""
    from django_tasks_db.models import DBTaskResult

    ran = 0
    while True:
        batch = list(
            DBTaskResult.objects.ready()
            .filter(task_path__endswith="customer_emails_send_task")
            .order_by("enqueued_at")[:50]
        )
        if not batch:
            return ran
        for result in batch:
            args, kwargs = result.args_kwargs["args"], result.args_kwargs["kwargs"]
            result.task.call(*args, **kwargs)
            result.delete()
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
        from orders import emails

        self.saved, emails._send_on_commit = emails._send_on_commit, lambda ids: None

    def __exit__(self, *exc_info):
        from orders import emails

        emails._send_on_commit = self.saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument(
        "--database",
        default="oms_bench_email",
        help="PostgreSQL database to (re)create",
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
        old_ids = build_orders(options.emails, prefix="OLD")
        with send_tasks_paused(), transaction.atomic():
            customer_emails_queue_many(
                order_ids=old_ids, kind=CustomerEmail.Kind.RECEIVED
            )
        pending = list(
            CustomerEmail.objects.filter(status="queued").values_list("pk", flat=True)
        )
        started = time.perf_counter()
        send_one_by_one(pending)
        old_seconds = time.perf_counter() - started
        old_connections = server.sessions.value - connections

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
                "seconds": round(old_seconds, 2),
                "emails_per_second": round(len(pending) / old_seconds, 1),
                "smtp_connections": old_connections,
            },
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    if not received == sent == queued:
        sys.exit(1)


if __name__ == "__main__":
    main()
