"""Procrastinate's queue with real `manage.py worker` processes: periodic tasks
run once per slot however many workers run, and a drain whose worker was
SIGKILLed or SIGSTOPped mid-batch is queued again by the heartbeats and taken
by another worker within the bound, every message applied once (the paused
worker's batch commits when it resumes, or its rows are drained by the
other)."""

import signal
import time
from contextlib import contextmanager

import pytest
from django.db import connection

from connections.inbox import waking
from connections.models import InboundMessage
from orders.models import Order
from tests.connections.test_inbox_draining import shop, store  # noqa: F401
from tests.connections.test_inbox_webhooks import shopify_order
from tests.faults.invariants import assert_invariants
from tests.faults.processes import (
    HEARTBEAT_SECONDS,
    STALE_SECONDS,
    queue_forget,
    wait_for,
    workers,
)

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 30
# The stale limit, the last beat before the stop, one recovery slot (1 s at
# these beats) and Procrastinate's periodic margin; then the test's poll.
RECOVERY_BOUND = STALE_SECONDS + HEARTBEAT_SECONDS + 1.5 + 2.0


@pytest.fixture
def database_queue(settings):
    queue_forget()
    settings.OMS_TASKS_BACKEND = "database"
    # One drain, woken by the first message, starts when all are stored: the
    # only drain there is, until the recovery queues it again.
    settings.OMS_INBOX_WAKE_SECONDS = 2
    waking.wakes_forget()
    yield
    waking.wakes_forget()


def periodic_runs() -> list[tuple[str, str, int]]:
    """(task, slot timestamp, jobs) of every periodic job queued so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, args->>'timestamp', count(*) FROM procrastinate_jobs "
            "WHERE args ? 'timestamp' GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return cursor.fetchall()


def test_each_periodic_slot_runs_once_with_two_workers(database_queue):
    with workers(("one", {}), ("two", {})):
        time.sleep(5)
        runs = periodic_runs()

    recover_slots = [slot for task, slot, _ in runs if task.endswith("work_recover")]
    assert len(recover_slots) >= 3, runs  # one every second
    assert {count for _, _, count in runs} == {1}, runs


def store_messages(shop) -> None:  # noqa: F811
    for n in range(MESSAGES):
        store(shop, shopify_order(f"#{n}", email=f"c{n}@example.com"), delivery=f"{n}")
    drains = "SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE %s"
    with connection.cursor() as cursor:
        cursor.execute(drains, ["%inbound_drain_task"])
        assert cursor.fetchone()[0] == 1


def drain_taken_by(worker_id: str) -> bool:
    """Whether the drain was queued again (a second attempt) and this worker
    took it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE %s "
            "AND attempts >= 1 AND worker_id = %s",
            ["%inbound_drain_task", int(worker_id)],
        )
        return cursor.fetchone()[0] == 1


def all_processed() -> bool:
    return not InboundMessage.objects.exclude(status="processed").exists()


def assert_applied_once(shop) -> None:  # noqa: F811
    assert InboundMessage.objects.count() == MESSAGES
    orders = Order.objects.filter(channel=shop)
    assert orders.count() == MESSAGES
    assert orders.values("external_id").distinct().count() == MESSAGES
    assert_invariants()


def paused_in_batch(tmp_path, seconds: int) -> dict[str, str]:
    return {
        "OMS_INBOX_BATCH": "10",
        "OMS_FAULT_PAUSE": f"inbox.batch={seconds}",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }


@contextmanager
def drain_inside_first_batch(
    shop,  # noqa: F811
    tmp_path,
    *,
    name: str,
    pause_seconds: int,
    stop_in_batch: bool = False,
):
    """Run a worker whose drain pauses inside its first batch, beside a
    survivor kept stopped until then so that it cannot take the drain; yield
    (the paused worker, the survivor) once the batch is open. With
    `stop_in_batch` the paused worker is SIGSTOPped there, its batch open and
    its rows locked, before the survivor resumes."""
    env = paused_in_batch(tmp_path, pause_seconds)
    with workers((name, env), ("survivor", {"OMS_INBOX_BATCH": "10"})) as (
        paused,
        survivor,
    ):
        survivor.process.send_signal(signal.SIGSTOP)
        try:
            store_messages(shop)
            wait_for(
                (tmp_path / "inbox.batch").exists,
                timeout=30,
                what="the drain to be inside its first batch",
                # Seen at once: a worker to stop there must still be inside
                # its (short) pause.
                every=0.02,
            )
            if stop_in_batch:
                paused.process.send_signal(signal.SIGSTOP)
        finally:
            survivor.process.send_signal(signal.SIGCONT)
        yield paused, survivor


def test_drain_of_a_killed_worker_is_retried_by_another_within_the_bound(
    shop,  # noqa: F811
    database_queue,
    tmp_path,
):
    with drain_inside_first_batch(shop, tmp_path, name="doomed", pause_seconds=60) as (
        doomed,
        survivor,
    ):
        killed_at = doomed.kill()
        wait_for(all_processed, timeout=RECOVERY_BOUND + 10, what="the retried drain")
        recovery = time.monotonic() - killed_at
        print(f"time to recovery, drain, worker SIGKILLed: {recovery:.1f} s")
        assert recovery <= RECOVERY_BOUND, f"{recovery:.1f} s to recover"
        assert survivor.alive()

    assert_applied_once(shop)


def test_drain_of_a_paused_worker_is_retried_and_its_batch_applied_once(
    shop,  # noqa: F811
    database_queue,
    tmp_path,
):
    with drain_inside_first_batch(
        shop, tmp_path, name="zombie", pause_seconds=3, stop_in_batch=True
    ) as (zombie, survivor):
        try:
            # Declared dead, its drain is queued again and the survivor takes it
            # (and waits for the rows the paused batch holds, or skips them).
            wait_for(
                lambda: drain_taken_by(survivor.worker_id),
                timeout=RECOVERY_BOUND + 10,
                what="the survivor to run the drain again",
            )
        finally:
            zombie.process.send_signal(signal.SIGCONT)
        # Resumed, the paused worker commits its batch: each message once.
        wait_for(all_processed, timeout=30, what="the paused batch to commit")
        assert zombie.alive() and survivor.alive()

    assert_applied_once(shop)
