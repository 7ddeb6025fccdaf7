"""The task queue (core/tasks.py) on PostgreSQL: a defer commits or rolls back
with the caller's transaction, a queueing lock keeps one waiting drain
however many processes wake it, and immediate mode runs a task at once."""

import threading

import pytest
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from connections.inbox import waking
from connections.inbox.draining import inbound_drain_task, inbound_wake
from core.tasks import IMMEDIATE_JOB_ID, defer_in_transaction, defer_once
from orders.services.allocation import backorders_reallocate_task
from tests.faults.processes import queue_forget

REALLOCATE = "orders.services.allocation.backorders_reallocate_task"
DRAIN = "connections.inbox.draining.inbound_drain_task"


@pytest.fixture
def database_queue(settings):
    queue_forget()  # what tests of whole transactions left behind
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_INBOX_WAKE_SECONDS = 60
    waking.wakes_forget()
    yield
    waking.wakes_forget()


def queued(task_name: str) -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=task_name, status="todo"))


@pytest.mark.django_db
def test_a_defer_in_a_rolled_back_transaction_queues_nothing(database_queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        backorders_reallocate_task.defer(product_ids=[1])
        assert len(queued(REALLOCATE)) == 1  # inserted in the transaction
        raise RuntimeError("the write that caused it fails")

    assert queued(REALLOCATE) == []


@pytest.mark.django_db
def test_a_defer_commits_with_the_write_that_causes_it(database_queue):
    with transaction.atomic():
        job_id = backorders_reallocate_task.defer(product_ids=[2])

    [job] = queued(REALLOCATE)
    assert (job.pk, job.args) == (job_id, {"product_ids": [2]})


@pytest.mark.django_db(transaction=True)
def test_a_defer_is_invisible_to_workers_until_its_transaction_commits(
    database_queue,
):
    seen_before_commit = []

    def look() -> None:
        try:
            seen_before_commit.append(len(queued(REALLOCATE)))
        finally:
            connection.close()

    with transaction.atomic():
        backorders_reallocate_task.defer(product_ids=[3])
        reader = threading.Thread(target=look)
        reader.start()
        reader.join()

    assert seen_before_commit == [0]
    assert len(queued(REALLOCATE)) == 1
    queue_forget()


@pytest.mark.django_db
def test_many_wake_ups_from_many_processes_leave_one_waiting_drain(database_queue):
    for _ in range(20):
        waking.wakes_forget()  # as if each came from another web process
        inbound_wake()
    for _ in range(5):
        assert defer_once(inbound_drain_task) is False

    [drain] = queued(DRAIN)
    assert drain.queueing_lock == "inbox-drain"
    assert drain.scheduled_at is not None


@pytest.mark.django_db
def test_a_refused_wake_up_leaves_the_callers_transaction_usable(database_queue):
    with transaction.atomic():
        assert defer_once(inbound_drain_task) is True
        assert defer_once(inbound_drain_task) is False
        backorders_reallocate_task.defer(product_ids=[4])  # still writes

    assert len(queued(DRAIN)) == 1 and len(queued(REALLOCATE)) == 1


@pytest.mark.django_db
def test_a_new_drain_can_wait_while_one_runs(database_queue):
    assert defer_once(inbound_drain_task) is True
    with connection.cursor() as cursor:  # a worker takes it: it is running
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing'")

    assert defer_once(inbound_drain_task) is True
    assert len(queued(DRAIN)) == 1


@pytest.mark.django_db
def test_immediate_mode_runs_the_task_at_once_and_queues_nothing(settings, monkeypatch):
    from orders.services import allocation

    queue_forget()  # what tests of whole transactions left behind
    settings.OMS_TASKS_BACKEND = "immediate"
    ran = []
    monkeypatch.setattr(
        allocation, "backorders_reallocate", lambda *, product_ids: ran.append(1)
    )

    assert backorders_reallocate_task.defer(product_ids=[5]) == IMMEDIATE_JOB_ID

    assert ran == [1]
    assert not ProcrastinateJob.objects.exists()


@pytest.mark.django_db
def test_immediate_mode_runs_a_transactional_defer_only_after_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.OMS_TASKS_BACKEND = "immediate"
    ran = []

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        defer_in_transaction(lambda: ran.append("run"))
        assert ran == []

    assert ran == ["run"]


@pytest.mark.django_db
def test_retention_prunes_old_finished_tasks_but_keeps_the_rest(database_queue):
    from datetime import timedelta

    from django.utils import timezone

    from core.retention import finished_tasks_prune

    # given an old finished job, a young finished one, an old waiting one and
    # an old finished one that is the latest defer of a periodic task
    ids = [backorders_reallocate_task.defer(product_ids=[n]) for n in range(4)]
    old_done, young_done, old_waiting, periodic_done = ids
    long_ago = timezone.now() - timedelta(days=400)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = ANY(%s)",
            [[old_done, young_done, periodic_done]],
        )
        cursor.execute(
            "UPDATE procrastinate_events SET at = %s WHERE job_id = ANY(%s)",
            [long_ago, [old_done, old_waiting, periodic_done]],
        )
        cursor.execute(
            "INSERT INTO procrastinate_periodic_defers"
            " (task_name, periodic_id, defer_timestamp, job_id)"
            " VALUES ('tick', 'tick', 1, %s)",
            [periodic_done],
        )

    # when the retention prune runs
    pruned = finished_tasks_prune(now=timezone.now())

    # then only the old finished job is gone, with its events
    assert pruned == 1
    left = set(ProcrastinateJob.objects.values_list("id", flat=True))
    assert left == {young_done, old_waiting, periodic_done}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_events WHERE job_id = %s", [old_done]
        )
        assert cursor.fetchone()[0] == 0
