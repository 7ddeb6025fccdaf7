"""Waking the worker: one waiting task per queue, however many messages
arrive and however many web processes take them in.

Two guards, each for its own cost: the task's Procrastinate queueing lock
makes the database refuse a second waiting wake-up from any process; before
it, each process skips the attempt when it queued one within
`OMS_INBOX_WAKE_SECONDS` (that one has not started yet), so a webhook is
acknowledged with its one INSERT and no refused insert of a wake-up."""

import threading
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.tasks import defer_once

# When this process last asked for each wake-up task (time.monotonic()).
_woken_until: dict[str, float] = {}
_wake_lock = threading.Lock()


def queue_in_database() -> bool:
    """Whether tasks go to the database queue (run by `manage.py worker`);
    otherwise (immediate mode) a task runs where it is deferred."""
    return settings.OMS_TASKS_BACKEND == "database"


def wake_once(task_) -> bool:
    """Queue `task_` (declared with a queueing lock) to start
    `OMS_INBOX_WAKE_SECONDS` from now, unless one is waiting already (it has
    not started: it will see what arrived meanwhile). Say if one was queued."""
    delay = settings.OMS_INBOX_WAKE_SECONDS
    now = time.monotonic()
    with _wake_lock:
        if now < _woken_until.get(task_.name, 0.0):
            return False
        _woken_until[task_.name] = now + delay
    run_after = timezone.now() + timedelta(seconds=delay)
    return defer_once(task_.configure(schedule_at=run_after))


def wakes_forget() -> None:
    """Forget the wake-ups this process asked for (tests start afresh)."""
    with _wake_lock:
        _woken_until.clear()
