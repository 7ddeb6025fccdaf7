"""Waking the worker: one waiting task per queue, however many messages
arrive and however many web processes take them in (the task's Procrastinate
queueing lock: a second wake-up while one waits is refused by the database)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.tasks import defer_once


def queue_in_database() -> bool:
    """Whether tasks go to the database queue (run by `manage.py worker`);
    otherwise (immediate mode) a task runs where it is deferred."""
    return settings.OMS_TASKS_BACKEND == "database"


def wake_once(task_) -> bool:
    """Queue `task_` (declared with a queueing lock) to start
    `OMS_INBOX_WAKE_SECONDS` from now, unless one is waiting already (it has
    not started: it will see what arrived meanwhile). Say if one was queued."""
    run_after = timezone.now() + timedelta(seconds=settings.OMS_INBOX_WAKE_SECONDS)
    return defer_once(task_.configure(schedule_at=run_after))


def wakes_forget() -> None:
    """Nothing to forget: the one waiting wake-up is a row in the queue (kept
    for the tests that called it between runs)."""
