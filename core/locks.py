"""Row locks of the floor's own tables."""

from django.db.models import QuerySet
from django_tasks_db.models import DBTaskResult


def lock_running_task(*, pk, running_status: str) -> DBTaskResult | None:
    """Lock a task still marked running, skipping it if another reaper holds it."""
    queryset: QuerySet[DBTaskResult] = DBTaskResult.objects.select_for_update(
        skip_locked=True
    ).filter(pk=pk, status=running_status)
    return queryset.order_by("pk").first()
