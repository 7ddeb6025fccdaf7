"""A task for the scheduler tests: counts its runs in a cache key."""

from django.core.cache import cache
from django_tasks import task

RUNS_KEY = "faults-tick-runs"


@task()
def tick() -> int:
    """Count one run."""
    try:
        return cache.incr(RUNS_KEY)
    except ValueError:
        cache.set(RUNS_KEY, 1)
        return 1
