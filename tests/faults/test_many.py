"""More than one of everything on one machine: two web processes (gunicorn)
and three worker processes on one PostgreSQL take, all at once, 5,000 signed
Shopify webhook orders posted over HTTP, a 100,000-line CSV import started as
the admin starts it, and the 1,000 "order received" e-mails of the channel
that mails its customers, delivered to a real SMTP server (aiosmtpd, in this
process). Meanwhile the worker running the import is SIGKILLed and the
busiest other one is SIGSTOPped for 90 s.

Then every webhook order exists once; the import, failed visibly when its
worker died and retried as a person would, has every order once; the SMTP
server got every e-mail at most once, and after recovery exactly once per
order that mails its customer; no periodic slot was queued twice; the data
rules hold; and `/health/ready` named the dead workers, then, with the
killed worker replaced, reports every worker well."""

import json
import logging
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from email import message_from_bytes
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from connections.models import InboundMessage
from inventory.services import stock_receive
from orders.importing.jobs import (
    import_job_confirm,
    import_job_preview,
    import_job_retry,
)
from orders.models import Channel, ImportJob, Order, OrderLine, OrderStatus
from tests import factories
from tests.bench.import_files import generate
from tests.connections.test_inbox_webhooks import sign
from tests.faults.invariants import assert_invariants
from tests.faults.processes import WorkerProcess, queue_forget, wait_for
from tests.support.database import database_url
from tests.support.gunicorn import GunicornProcess, url_wait
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK_ORDERS = 5_000
EMAIL_ORDERS = 1_000  # of the webhook orders: those of the channel that mails
IMPORT_LINES = 100_000
PAUSE_SECONDS = 90
# Beats a busy two-core machine keeps: a worker silent for 10 s is dead.
HEARTBEAT_SECONDS = 1.0
STALE_SECONDS = 10.0
SECRET = "shpss_many0123456789abcdef"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "shopify"
# Shopify's own orders/create body (paid, one line, an Ontario address).
TEMPLATE = json.loads((CORPUS / "rest-2024-04-order-create-discount.json").read_text())
IMPORT_SKUS = [f"BIG-{n}" for n in range(40)]
# What each worker and web process reads the same way.
SHARED_ENV = {
    "OMS_TASKS_BACKEND": "database",
    "OMS_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    "OMS_WORKER_STALE_SECONDS": str(STALE_SECONDS),
}


def shopify_resource(prefix: str, n: int) -> dict:
    """The published body as a new order: its own name, ids and customer."""
    order = json.loads(json.dumps(TEMPLATE.get("order", TEMPLATE)))
    number = 10_000 + n
    email = f"{prefix.lower()}{n}@example.com"
    order.update(
        id=7_000_000_000 + (1 if prefix == "M" else 2) * 1_000_000 + n,
        name=f"#{prefix}{number}",
        order_number=number,
        number=number,
        email=email,
        contact_email=email,
    )
    order["admin_graphql_api_id"] = f"gid://shopify/Order/{order['id']}"
    order["customer"] = {**order["customer"], "id": order["id"] + 5, "email": email}
    return order


def post_webhook(base: str, channel: str, resource: dict, delivery: str) -> int:
    """POST one signed orders/create as Shopify does, retrying (same delivery
    id) what was not answered 200, as Shopify retries; the last status."""
    body = json.dumps(resource).encode()
    status = 0
    for _ in range(5):
        request = urllib.request.Request(
            f"{base}/api/channels/{channel}/webhooks/shopify/",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": sign(body, SECRET),
                "X-Shopify-Webhook-Id": delivery,
                "X-Shopify-Shop-Domain": f"{channel}.myshopify.com",
                # What the TLS proxy in front adds.
                "X-Forwarded-Proto": "https",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        if status == 200:
            return status
        time.sleep(1)
    return status


def webhooks_post(base: str) -> list[int]:
    """Post every webhook order from a pool of threads; their statuses."""
    deliveries = []
    for n in range(WEBHOOK_ORDERS):
        # One in five is for the channel that mails its customers.
        if n % 5 == 0:
            deliveries.append(("shop-mails", shopify_resource("M", n // 5)))
        else:
            deliveries.append(("shop-quiet", shopify_resource("Q", n)))
    with ThreadPoolExecutor(6) as pool:
        return list(
            pool.map(
                lambda item: post_webhook(
                    base, item[1][0], item[1][1], f"many-{item[0]}"
                ),
                enumerate(deliveries),
            )
        )


def ready_state(base: str) -> tuple[int, dict]:
    """`/health/ready` through the web processes: status and body (0, {} when
    it did not answer in time)."""
    try:
        with urllib.request.urlopen(f"{base}/health/ready", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


def expected_email_orders() -> dict[str, str]:
    """The order number and customer address of every order whose customer
    must get the "order received" e-mail: the orders of the channels that
    mail their customers."""
    return dict(
        Order.objects.filter(channel__send_customer_emails=True).values_list(
            "number", "customer__email"
        )
    )


def emails_received(sink: SmtpSink) -> Counter:
    """(order number, recipient) of every message the SMTP server accepted,
    counted."""
    with sink.handler.lock:
        messages = list(sink.handler.messages)
    received = Counter()
    for message in messages:
        subject = message_from_bytes(message.content).get("Subject", "")
        found = re.search(r"\bSO-\d+", subject)
        for recipient in message.to:
            received[(found.group(0) if found else subject, recipient)] += 1
    return received


def periodic_slots_twice() -> list[tuple]:
    """Periodic slots queued more than once, by Procrastinate's record of its
    periodic defers and by its jobs (a slot's job carries its timestamp)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, periodic_id, defer_timestamp, count(*) "
            "FROM procrastinate_periodic_defers GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )
        twice = cursor.fetchall()
        cursor.execute(
            "SELECT task_name, args->>'timestamp', count(*) FROM procrastinate_jobs "
            "WHERE args ? 'timestamp' GROUP BY 1, 2 HAVING count(*) > 1"
        )
        return twice + cursor.fetchall()


def periodic_jobs_unfinished(before: float) -> list[tuple]:
    """Periodic jobs of slots before `before` (a Unix time) that did not end
    succeeded."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, task_name, args->>'timestamp', status FROM procrastinate_jobs "
            "WHERE args ? 'timestamp' AND (args->>'timestamp')::bigint < %s "
            "AND status <> 'succeeded' ORDER BY id",
            [int(before)],
        )
        return cursor.fetchall()


def busiest(candidates: list[WorkerProcess]) -> WorkerProcess:
    """The worker with the most work in hand (a drain or an e-mail batch
    running), so that the pause catches work half done; the first if none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT worker_id::text, count(*) FROM procrastinate_jobs "
            "WHERE status = 'doing' AND queue_name <> 'recovery' GROUP BY 1"
        )
        doing = dict(cursor.fetchall())
    return max(candidates, key=lambda worker: doing.get(worker.worker_id, 0))


def import_job_row(job: ImportJob) -> dict:
    return ImportJob.objects.values(
        "status", "stage", "processed", "worker_id", "error", "attempts"
    ).get(pk=job.pk)


@pytest.fixture
def shops(settings, location, user):
    """Two Shopify channels (one mails its customers), the import's channel,
    and stock for every order."""
    queue_forget()
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_WORKER_STALE_SECONDS = STALE_SECONDS
    for sku in ["IPOD2009BLACK", *IMPORT_SKUS]:
        product = factories.ProductFactory(sku=sku, name=sku)
        stock_receive(product=product, location=location, quantity=20_000, actor=user)
    for code, mails in (("shop-mails", True), ("shop-quiet", False)):
        factories.ChannelFactory(
            code=code,
            name=code,
            platform=Channel.Platform.SHOPIFY,
            inbound_secret=SECRET,
            send_customer_emails=mails,
        )
    return factories.ChannelFactory(
        code="wholesale", name="Wholesale", send_customer_emails=False
    )


def test_two_web_and_three_worker_processes_take_everything_once_through_faults(
    shops, user
):
    # given a 100,000-line file uploaded and checked, as the admin does
    data = generate(IMPORT_LINES, IMPORT_SKUS, "BIG")
    job = import_job_preview(
        data=data,
        filename="many.csv",
        channel=shops,
        format_code="auto",
        partial=False,
        actor=user,
    )
    import_orders = job.preview["orders"]
    assert job.preview["lines"] == IMPORT_LINES, job.preview
    assert not job.preview.get("problems"), job.preview["problems"][:5]

    with ExitStack() as stack:
        stack.callback(queue_forget)
        # aiosmtpd logs a line per SMTP command: 5,000 of them on a failure.
        smtp_log = logging.getLogger("mail.log")
        stack.callback(smtp_log.setLevel, smtp_log.level)
        smtp_log.setLevel(logging.WARNING)
        sink = stack.enter_context(SmtpSink())
        env = {
            **SHARED_ENV,
            "DATABASE_URL": database_url(),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_TIMEOUT": "30",
        }
        worker_env = {
            **env,
            "OMS_WORKER_POLL_SECONDS": "1",
            # Ten chunks: the import is killed between its first and last commit.
            "OMS_IMPORT_CHUNK_ORDERS": "2500",
        }
        web = stack.enter_context(
            GunicornProcess(
                {
                    **env,
                    "DEBUG": "false",
                    "SECRET_KEY": "many-not-secret",
                    "ALLOWED_HOSTS": "127.0.0.1",
                    "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
                    "OMS_FIELD_ENCRYPTION_KEYS": ",".join(
                        settings.OMS_FIELD_ENCRYPTION_KEYS
                    ),
                    "OMS_HEALTH_WORKERS_MIN": "1",
                    "LOG_LEVEL": "WARNING",
                },
                drop=("DJANGO_", "LOG_FORMAT", "SENTRY_"),
            )
        )
        started: list[WorkerProcess] = []

        def stop_workers() -> None:
            for worker in started:
                if worker.process.poll() is None:
                    worker.process.send_signal(signal.SIGCONT)
                worker.stop()

        stack.callback(stop_workers)
        for name in ("one", "two", "three"):
            started.append(WorkerProcess(name, **worker_env))
        for worker in started:
            worker.wait_started()
        assert url_wait(f"{web.base}/health/live", {}, seconds=60).status == 200

        # when everything arrives at once
        import_job_confirm(job=job)
        posted: dict = {}
        poster = threading.Thread(
            target=lambda: posted.update(statuses=webhooks_post(web.base)),
            daemon=True,
        )
        poster.start()
        stack.callback(poster.join, timeout=300)

        # ... and, between the import's first commit and its last, its worker
        # is killed and another paused
        def import_written_in_part() -> dict | None:
            row = import_job_row(job)
            assert row["status"] != "done", f"the import ended first: {row}"
            written = row["stage"] == "writing" and row["processed"] > 0
            return row if row["status"] == "running" and written else None

        running = wait_for(
            import_written_in_part,
            timeout=180,
            what="the import's first chunk to commit",
            every=0.2,
        )
        [doomed] = [w for w in started if w.worker_id == running["worker_id"]]
        paused = busiest([w for w in started if w is not doomed])
        paused.process.send_signal(signal.SIGSTOP)
        paused_at = time.monotonic()
        doomed.kill()

        # then readiness names both as dead (a warning: one worker still beats)
        def dead_named() -> dict | None:
            status, body = ready_state(web.base)
            dead = body.get("checks", {}).get("workers_dead", {})
            named = dead.get("detail", "").rpartition(": workers ")[2].split(", ")
            if dead.get("status") == "warning" and {
                doomed.worker_id,
                paused.worker_id,
            } <= set(named):
                return {"http": status, **body}
            return None

        reported = wait_for(
            dead_named,
            timeout=STALE_SECONDS + 60,
            what="readiness to name the dead workers",
            every=0.5,
        )
        assert reported["http"] == 200, reported
        assert reported["checks"]["workers_alive"]["status"] == "ok", reported

        # the killed worker is replaced (its start prunes the dead workers' rows)
        replacement = WorkerProcess("replacement", **worker_env)
        started.append(replacement)
        replacement.wait_started()

        # the import failed visibly with its worker; Retry, as a person would
        wait_for(
            lambda: import_job_row(job)["status"] == "failed",
            timeout=STALE_SECONDS + 60,
            what="the killed import to fail",
        )
        assert "stopped" in import_job_row(job)["error"], import_job_row(job)
        assert import_job_retry(job=ImportJob.objects.get(pk=job.pk))

        # every webhook answered 200 (stored) while the pause lasts
        poster.join(timeout=240)
        assert not poster.is_alive(), "the webhooks were not all answered"
        assert Counter(posted["statuses"]) == {200: WEBHOOK_ORDERS}

        # the pause lasts its 90 s (the fault's length, not a wait for work)
        time.sleep(max(0.0, paused_at + PAUSE_SECONDS - time.monotonic()))
        assert paused.process.poll() is None
        paused.process.send_signal(signal.SIGCONT)
        resumed_at = time.time()

        def work_left() -> dict:
            """What is not done yet, by kind (empty: all done)."""
            row = import_job_row(job)
            assert row["status"] != "failed", row
            left = {
                "import": row if row["status"] != "done" else None,
                "webhooks_unprocessed": WEBHOOK_ORDERS
                - InboundMessage.objects.filter(status="processed").count(),
                "orders_pending": Order.objects.filter(
                    status=OrderStatus.PENDING
                ).count(),
                "emails_missing": EMAIL_ORDERS - sum(emails_received(sink).values()),
            }
            return {kind: figure for kind, figure in left.items() if figure}

        try:
            wait_for(lambda: not work_left(), timeout=240, what="all the work", every=1)
        except AssertionError as timed_out:
            for worker in started:  # shown with the failure
                print(f"--- worker {worker.name}:", worker.log.read_text()[-3000:])
            raise AssertionError(f"{timed_out}; left: {work_left()}") from None
        expected_emails = expected_email_orders()
        assert len(expected_emails) == EMAIL_ORDERS

        def recovered() -> dict | None:
            status, body = ready_state(web.base)
            checks = body.get("checks", {})
            workers_ok = all(
                checks.get(name, {}).get("status") == "ok"
                for name in ("workers_alive", "workers_dead")
            )
            return {"http": status, **body} if status == 200 and workers_ok else None

        healthy = wait_for(
            recovered, timeout=60, what="readiness to recover", every=0.5
        )
        # The three beating processes: the replacement, the survivor and the
        # paused one, started again under new ids when it found its rows gone.
        assert healthy["checks"]["workers_alive"]["value"] >= 4, healthy
        for worker in started:
            if worker is not doomed:
                assert worker.alive()
        emails = emails_received(sink)
        slots_twice = periodic_slots_twice()
        unfinished = periodic_jobs_unfinished(before=resumed_at)

    # every webhook order exists exactly once
    for code, prefix, count in (
        ("shop-mails", "M", EMAIL_ORDERS),
        ("shop-quiet", "Q", WEBHOOK_ORDERS - EMAIL_ORDERS),
    ):
        numbers = range(count) if prefix == "M" else range(WEBHOOK_ORDERS)
        wanted = sorted(
            shopify_resource(prefix, n)["name"]
            for n in numbers
            if prefix == "M" or n % 5
        )
        assert len(wanted) == count
        got = sorted(
            Order.objects.filter(channel__code=code).values_list(
                "external_id", flat=True
            )
        )
        assert got == wanted, f"{code}: {len(got)} orders for {count} webhooks"

    # the import finished, every order once, after one retry
    finished = ImportJob.objects.get(pk=job.pk)
    assert (finished.status, finished.attempts) == ("done", 2), finished.result
    # Killed between its commits: the retry skipped what the first run wrote.
    skipped = finished.result["skipped_existing_count"]
    assert 0 < skipped < import_orders, finished.result["summary"]
    imported = sorted(
        Order.objects.filter(channel=shops).values_list("external_id", flat=True)
    )
    assert imported == sorted(f"BIG-{n}" for n in range(1, import_orders + 1))
    assert OrderLine.objects.filter(order__channel=shops).count() == IMPORT_LINES

    # every e-mail at most once, and after recovery once per order that mails
    assert [key for key, n in emails.items() if n > 1] == []
    assert set(emails) == set(expected_emails.items())

    # every periodic slot queued once, and each one before the resume ran
    assert slots_twice == []
    assert unfinished == []

    assert_invariants()
