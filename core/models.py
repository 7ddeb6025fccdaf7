"""Shared building blocks every app may use."""

from django.db import models


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


class BackgroundJob(models.Model):
    """What a job row (an import, a print batch) needs so that it never stays
    stuck: who runs it, when it last showed life, how often it was started,
    and why it failed.

    `core.jobs.job_run` fills these in; `core.jobs.jobs_reap` fails a job
    whose worker died (or whose in-process run went silent) with the reason
    from `lost_message`, and a person retries it.
    """

    worker_id = models.CharField(
        max_length=64, blank=True, help_text="The background worker running it."
    )
    task_id = models.CharField(
        max_length=64, blank=True, help_text="The queue's task running it."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life while it ran."
    )
    error = models.TextField(blank=True)

    # What the job is called in messages, and the columns the reaper skips.
    job_noun = "job"
    heavy_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def lost_message(self, cause: str) -> str:
        """Say, for the person at the screen, why the run ended without an end.

        `cause` names the job as `{job}`: "the worker running this {job} stopped".
        """
        return f"{cause.format(job=self.job_noun)}. Retry runs it again."

    def lost_fields(self, message: str) -> dict:
        """Return the model's own fields to write when its run is lost."""
        return {}


class RateWindow(models.Model):
    """The requests counted under one key in its current window (the API's
    and the customer page's rate limits, `core.cache.cache_count`).

    Unlogged (migration 0006): a crash of the database server forgets the
    counts, which only gives every client a fresh window."""

    key = models.CharField(max_length=250, primary_key=True)
    expires = models.DateTimeField()
    count = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} until {self.expires:%H:%M:%S}"
