"""Shared building blocks every app may use."""

from django.db import models


class Sequence(models.Model):
    """A named counter for human document numbers (SO-000123, SH-000045)."""

    name = models.CharField(max_length=32, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"


class VersionedModel(models.Model):
    """Optimistic locking: every save raises `version`, so an edit made on a
    page opened before someone else's change can be recognised and refused
    (see `core.admin_utils.OptimisticLockAdminMixin`)."""

    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Bookkeeping for concurrent edits, not business logic.
        self.version += 1
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        super().save(*args, **kwargs)


class ProtectedStatusModel(models.Model):
    """Reloading a row with a protected FSM `status` field.

    django-fsm refuses assignment to a protected field, and reloading is not a
    change: the cached value is dropped so Django may load it again.
    """

    class Meta:
        abstract = True

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        if fields is None or "status" in fields:
            self.__dict__.pop("status", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)


class WorkerHeartbeat(models.Model):
    """A background worker process that is alive: it beats every few seconds.

    Work claimed by a worker whose beat stopped (killed, out of memory, the
    machine gone) is taken up again or failed by the reaper (`core.worker`).
    """

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}:{self.pid})"


class ScheduleSlot(models.Model):
    """One run of a periodic task in one time slot, whichever worker got there
    first: the unique key makes a slot run once however many workers beat."""

    name = models.CharField(max_length=100)
    slot = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "slot"], name="schedule_slot_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.slot}"
