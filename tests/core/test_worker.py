"""Periodic slots queued once: after a pause a worker defers each periodic
task's latest slot, never the slots it missed (the other workers deferred
those, and Procrastinate's record of them is gone), and a slot deferred late
is not queued when a later one is on record."""

import json

import pytest
from django.db import connection
from procrastinate import periodic as procrastinate_periodic

from core import sql
from core.tasks import app
from core.worker import LatestSlotDeferrer

RECOVER = "core.worker.work_recover"


def _recover_slots(deferrer, *, since: int | None, until: float) -> list[int]:
    [periodic_task] = [
        task
        for task in app.periodic_registry.periodic_tasks.values()
        if task.task.name == RECOVER
    ]
    return list(deferrer.get_timestamps(periodic_task, since=since, until=until))


def test_a_worker_paused_past_many_slots_defers_only_the_latest():
    # given a worker that deferred a slot, then was paused for 95 s
    until = 1_800_000_000.5
    since = 1_800_000_000 - 100
    registry = app.periodic_registry

    # when it looks again
    latest = _recover_slots(
        LatestSlotDeferrer(registry=registry), since=since, until=until
    )

    # then it defers the latest slot alone, where Procrastinate's would defer
    # every slot of the pause (the settings' recovery runs every 10 s)
    assert latest == [1_800_000_000]
    caught_up = _recover_slots(
        procrastinate_periodic.PeriodicDeferrer(registry=registry),
        since=since,
        until=until,
    )
    assert len(caught_up) == 10 and caught_up[-1] == latest[0]


def test_a_slot_already_deferred_is_not_deferred_again():
    deferrer = LatestSlotDeferrer(registry=app.periodic_registry)

    again = _recover_slots(deferrer, since=1_800_000_000, until=1_800_000_000.5)

    assert again == []


def _defer_slot(timestamp: int) -> int | None:
    """Defer a slot of a periodic task as the workers do; its job id, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.PERIODIC_DEFER_IF_LATEST,
            {
                "task_name": "tests.sweep",
                "periodic_id": "sweep",
                "defer_timestamp": timestamp,
                "queue": "test-periodic",
                "priority": 0,
                "lock": None,
                "queueing_lock": None,
                "args": json.dumps({"timestamp": timestamp}),
            },
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_slot_deferred_late_is_not_queued_a_second_time():
    # given a slot deferred, then the next (Procrastinate forgets the first)
    assert _defer_slot(1_800_000_000) is not None
    assert _defer_slot(1_800_000_001) is not None

    # when a worker paused in between defers the first slot again
    late = _defer_slot(1_800_000_000)

    # then nothing is queued: one job per slot
    assert late is None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args->>'timestamp', count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'tests.sweep' GROUP BY 1 ORDER BY 1"
        )
        assert cursor.fetchall() == [("1800000000", 1), ("1800000001", 1)]
