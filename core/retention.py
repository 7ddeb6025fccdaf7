"""Data that does not grow forever: the pieces every app's prune shares.

Each app prunes its own rows and files (`<app>/services/retention.py`);
`oms.retention.retention_prune` calls them all, daily. Periods are settings
in days (`OMS_RETENTION_*`, docs/operations.md).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet

from core.files import file_delete
from core.sql import finished_tasks_delete

BATCH = 500


def retention_cutoff(*, now: datetime, setting: str) -> datetime | None:
    """Return the moment before which rows are pruned, or None when the
    setting is 0 (kept forever)."""
    days = getattr(settings, setting)
    return now - timedelta(days=days) if days else None


def rows_prune(rows: QuerySet, *, file_fields: tuple[str, ...] = ()) -> int:
    """Delete these rows in batches, and their files after each batch
    commits; return how many rows went."""
    model: type[Model] = rows.model
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                rows.order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", *file_fields)[:BATCH]
            )
            if not batch:
                return deleted
            model.objects.filter(pk__in=[row[0] for row in batch]).delete()
        for index, field in enumerate(file_fields, start=1):
            file_delete(model=model, field=field, names=[row[index] for row in batch])
        deleted += len(batch)


def files_prune(rows: QuerySet, *, field: str) -> int:
    """Drop the file of each of these rows (the row stays, its file NULL), in
    batches; return how many files went."""
    model: type[Model] = rows.model
    dropped = 0
    rows = rows.filter(**{f"{field}__isnull": False})
    while True:
        with transaction.atomic():
            batch = list(
                rows.order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", field)[:BATCH]
            )
            if not batch:
                return dropped
            model.objects.filter(pk__in=[pk for pk, _ in batch]).update(**{field: None})
        file_delete(model=model, field=field, names=[name for _, name in batch])
        dropped += len(batch)


def finished_tasks_prune(*, now: datetime) -> int:
    """Delete the background-task rows (Procrastinate's jobs and their
    events) that ended more than `OMS_RETENTION_JOB_DAYS` ago, in batches;
    return how many went."""
    before = retention_cutoff(now=now, setting="OMS_RETENTION_JOB_DAYS")
    if before is None:
        return 0
    deleted = 0
    while True:
        with transaction.atomic():
            gone = finished_tasks_delete(before=before, batch=BATCH)
        deleted += gone
        if gone < BATCH:
            return deleted


def rate_windows_prune(*, now: datetime) -> int:
    """Delete the rate-limit windows that closed more than an hour ago."""
    from core.models import RateWindow

    deleted, _ = RateWindow.objects.filter(
        expires__lt=now - timedelta(hours=1)
    ).delete()
    return deleted
