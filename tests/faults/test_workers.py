"""Faults with real `manage.py worker` processes on PostgreSQL: a worker
SIGKILLed mid-import and mid-print, and the import's database connection
terminated mid-write. Each time the job ends failed within the stale limit
(not stuck), Retry takes it to done exactly once, the other queued work is
not held up, and the data rules hold."""

import signal
import time

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from fulfillment.models import DocumentPrint, PrintJob, Shipment
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.printing import (
    print_job_create,
    print_job_download,
    print_job_retry,
)
from orders.importing.jobs import (
    import_job_confirm,
    import_job_preview,
    import_job_retry,
)
from orders.models import ImportJob, Order
from orders.services.allocation import backorders_reallocate_task
from tests.faults.invariants import assert_invariants
from tests.faults.processes import (
    HEARTBEAT_SECONDS,
    STALE_SECONDS,
    queue_forget,
    wait_for,
    workers,
)
from tests.orders.test_import import csv_bytes, row

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 40
# Killed at the last beat, a job is failed by the next reaper pass after the
# stale limit; the rest is the poll of this test and process scheduling.
RECOVERY_BOUND = STALE_SECONDS + 2 * HEARTBEAT_SECONDS + 2.0


@pytest.fixture
def database_queue(settings):
    """Enqueue to the database queue the worker subprocesses read."""
    queue_forget()
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_IMPORT_BACKGROUND_LINES = 1


@pytest.fixture
def shop(database_queue, channel, location, stock, user):
    """A channel "web", three products with stock for most of the orders."""
    from tests.factories import ChannelFactory, ProductFactory

    ChannelFactory(code="web", name="Web shop")
    products = [ProductFactory(sku=f"SKU-{n}") for n in range(3)]
    for product in products:
        stock(product, ORDERS // 2)
    return products


def import_file() -> bytes:
    return csv_bytes(
        row(ref=f"F-{n}", sku=f"SKU-{n % 3}", quantity="1") for n in range(ORDERS)
    )


def queue_import(user) -> ImportJob:
    job = import_job_preview(
        data=import_file(),
        filename="faults.csv",
        channel=None,
        format_code="auto",
        partial=False,
        actor=user,
    )
    assert job.preview["orders"] == ORDERS, job.preview
    import_job_confirm(job=job)
    job.refresh_from_db()
    assert job.status == "queued"
    return job


def status_of(job) -> str:
    return type(job).objects.values_list("status", flat=True).get(pk=job.pk)


def wait_until_done(job, timeout: float = 60) -> None:
    """Wait for the job to end; fail showing its row if it does not end done."""
    deadline = time.monotonic() + timeout
    while status_of(job) not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
    row = type(job).objects.values("status", "error", "attempts").get(pk=job.pk)
    assert row["status"] == "done", row


def other_work(count: int = 3) -> list[int]:
    return [backorders_reallocate_task.defer(product_ids=[]) for _ in range(count)]


def all_done(task_ids: list[int]) -> bool:
    finished = ProcrastinateJob.objects.filter(pk__in=task_ids, status="succeeded")
    return finished.count() == len(task_ids)


def failed_within_bound(job, killed_at: float, name: str) -> float:
    wait_for(
        lambda: status_of(job) == "failed",
        timeout=RECOVERY_BOUND + 10,
        what=f"{name} to fail after its worker died",
        every=0.05,
    )
    recovery = time.monotonic() - killed_at
    # Shown with `pytest -s`: the time to recovery the README quotes.
    print(f"time to recovery, {name}: {recovery:.1f} s")
    assert recovery <= RECOVERY_BOUND, f"{name}: {recovery:.1f} s to recover"
    return recovery


def assert_imported_once() -> None:
    external_ids = list(Order.objects.values_list("external_id", flat=True))
    assert sorted(external_ids) == sorted(f"F-{n}" for n in range(ORDERS))
    # Settled: no imported order is left pending (allocated, backordered, or
    # held by a rule such as an address check).
    assert not Order.objects.filter(status="pending").exists()


def test_worker_killed_mid_import_fails_the_job_and_retry_imports_once(
    shop, user, tmp_path
):
    paused = {
        "OMS_FAULT_PAUSE": "import.write=60",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }
    with workers(("doomed", paused), ("survivor", {})) as (doomed, survivor):
        # Only the doomed worker takes work until it is inside the write.
        survivor.process.send_signal(signal.SIGSTOP)
        job = queue_import(user)
        wait_for(
            lambda: (tmp_path / "import.write").exists(),
            timeout=30,
            what="the import to be inside its write",
        )
        survivor.process.send_signal(signal.SIGCONT)
        job.refresh_from_db()
        assert (job.status, job.worker_id, job.stage) == (
            "running",
            doomed.worker_id,
            "writing",
        )

        # The other queued work runs on the second worker meanwhile.
        waiting = other_work()
        wait_for(lambda: all_done(waiting), timeout=20, what="the other tasks")
        assert status_of(job) == "running"

        killed_at = doomed.kill()
        failed_within_bound(job, killed_at, "import, worker SIGKILLed")
        job.refresh_from_db()
        assert job.error == (
            "the worker running this import stopped (killed or out of memory) "
            "while writing the orders; nothing was written. Retry runs it again."
        )
        assert not Order.objects.exists()
        assert_invariants()

        assert import_job_retry(job=job)
        wait_until_done(job)

    job.refresh_from_db()
    assert job.attempts == 2 and job.error == ""
    assert job.result["summary"].startswith(f"imported {ORDERS} orders")
    assert_imported_once()
    assert_invariants()


def test_worker_killed_mid_print_fails_the_batch_and_retry_prints_one_document(
    shop, place_order, user, tmp_path
):
    orders = [place_order([(product, 1)]) for product in shop]
    pick_lists_create(order_ids=[o.pk for o in orders], actor=user)
    shipment_ids = list(Shipment.objects.values_list("pk", flat=True))
    paused = {
        "OMS_FAULT_PAUSE": "printjob.progress=60",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }
    with workers(("doomed", paused), ("survivor", {})) as (doomed, survivor):
        # Only the doomed worker takes work until it has claimed the batch.
        survivor.process.send_signal(signal.SIGSTOP)
        job = print_job_create(kind="packing_slip", object_ids=shipment_ids, actor=user)
        wait_for(
            lambda: (tmp_path / "printjob.progress").exists(),
            timeout=60,
            what="the batch to be rendered by the doomed worker",
        )
        survivor.process.send_signal(signal.SIGCONT)
        assert status_of(job) == "running"

        killed_at = doomed.kill()
        failed_within_bound(job, killed_at, "print batch, worker SIGKILLed")
        job.refresh_from_db()
        assert "the worker running this print batch stopped" in job.error
        assert "nothing was printed" in job.error
        assert not DocumentPrint.objects.exists()

        assert print_job_retry(job=job)
        wait_until_done(job)

    job.refresh_from_db()
    assert (job.pages, job.done, job.attempts) == (3, 3, 2)
    print_job_download(job=job, actor=user)
    assert DocumentPrint.objects.count() == 1
    assert PrintJob.objects.count() == 1
    assert_invariants()


def test_import_connection_terminated_mid_write_fails_the_job_not_the_worker(
    shop, user, tmp_path
):
    paused = {
        "OMS_FAULT_PAUSE": "import.write=3",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }
    with workers(("lonely", paused)) as (worker,):
        job = queue_import(user)
        wait_for(
            lambda: (tmp_path / "import.write").exists(),
            timeout=30,
            what="the import to be inside its write",
        )
        time.sleep(0.5)
        with connection.cursor() as cursor:
            # The import's transaction: open, idle in the pause, for a while
            # (the heartbeat's short transactions never are).
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = %s AND state = 'idle in transaction' "
                "AND xact_start < now() - interval '0.4 seconds'",
                [worker.application_name],
            )
            assert [ok for (ok,) in cursor.fetchall()] == [True]
        terminated_at = time.monotonic()

        wait_for(lambda: status_of(job) == "failed", timeout=20, what="the failure")
        print(
            "time to recovery, import connection terminated: "
            f"{time.monotonic() - terminated_at:.1f} s"
        )
        job.refresh_from_db()
        assert job.error.startswith(
            "the database connection of this import was lost (database restart, "
            "failover or a terminated session) while writing the orders; nothing "
            "was written."
        )
        assert not Order.objects.exists()
        # The worker lives on and runs the retry.
        assert worker.alive()
        assert import_job_retry(job=job)
        wait_until_done(job)
        waiting = other_work()
        wait_for(lambda: all_done(waiting), timeout=20, what="more work after it")

    assert_imported_once()
    assert_invariants()


def test_worker_paused_past_its_claim_cannot_commit_and_the_retry_imports_once(
    shop, user, tmp_path
):
    """A worker stopped (SIGSTOP, as in a VM pause) inside the import's write is
    declared dead and its job failed; Retry runs the job on another worker
    while it is stopped. When it resumes, its transaction finds the claim
    gone and rolls back: the orders are written once, by the retry, and the
    job ends done, never both failed and done."""
    paused = {
        "OMS_FAULT_PAUSE": "import.write=3",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }
    with workers(("zombie", paused), ("survivor", {})) as (zombie, survivor):
        survivor.process.send_signal(signal.SIGSTOP)
        try:
            job = queue_import(user)
            wait_for(
                lambda: (tmp_path / "import.write").exists(),
                timeout=30,
                what="the import to be inside its write",
                every=0.02,
            )
            zombie.process.send_signal(signal.SIGSTOP)  # mid-transaction
        finally:
            survivor.process.send_signal(signal.SIGCONT)
        try:
            stopped_at = time.monotonic()
            failed_within_bound(job, stopped_at, "import, worker SIGSTOPped")
            job.refresh_from_db()
            assert (job.attempts, job.stage) == (1, "writing")
            assert job.error.endswith("nothing was written. Retry runs it again.")
            assert not Order.objects.exists()

            # Retry while the first run is still stopped with its rows open.
            assert import_job_retry(job=job)
            wait_for(
                lambda: type(job).objects.filter(pk=job.pk, attempts=2).exists(),
                timeout=20,
                what="the retry to be claimed",
            )
        finally:
            zombie.process.send_signal(signal.SIGCONT)
        wait_until_done(job)
        wait_for(
            lambda: "lost its claim" in zombie.log.read_text(errors="replace"),
            timeout=20,
            what="the resumed worker to log that it lost its claim",
        )
        assert zombie.alive()

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("done", 2, "")
    assert job.result["summary"].startswith(f"imported {ORDERS} orders")
    assert_imported_once()
    assert_invariants()
