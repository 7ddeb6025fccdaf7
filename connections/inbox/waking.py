"""Waking the worker: one delayed task per process and interval, however
many messages arrive."""

import threading
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

# When this process last queued each wake-up task (time.monotonic()).
_woken_until: dict[str, float] = {}
_wake_lock = threading.Lock()


def queue_in_database() -> bool:
    """Whether tasks go to the database queue (run by `manage.py worker`);
    otherwise (the immediate backend) a task runs where it is enqueued."""
    return settings.OMS_TASKS_BACKEND == "database"


def wake_once(task_) -> None:
    """Queue `task_` to start `OMS_INBOX_WAKE_SECONDS` from now, unless this
    process queued it within that time (it has not started yet)."""
    delay = settings.OMS_INBOX_WAKE_SECONDS
    now = time.monotonic()
    with _wake_lock:
        if now < _woken_until.get(task_.name, 0.0):
            return
        _woken_until[task_.name] = now + delay
    run_after = timezone.now() + timedelta(seconds=delay)
    task_.using(run_after=run_after).enqueue()


def wakes_forget() -> None:
    """Forget the wake-ups this process queued (tests start afresh)."""
    with _wake_lock:
        _woken_until.clear()
