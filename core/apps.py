from django.apps import AppConfig
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate


def cache_table_create(*, using: str = "default", **kwargs) -> None:
    """Create the database cache's table when missing (`createcachetable`
    does nothing when it exists, or when the cache is Redis): `migrate` is
    the one command a fresh install, `make demo` and a deployment run."""
    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import lookups  # noqa: F401 - registers the any_of lookup
        from core.cache import request_memo_end, request_memo_start

        # Infrastructure, not business logic: the table Django's cache needs,
        # and the cache's reads kept for one request (core.cache.cache_read).
        request_started.connect(request_memo_start, dispatch_uid="core.cache_memo")
        request_finished.connect(request_memo_end, dispatch_uid="core.cache_memo")
        post_migrate.connect(
            cache_table_create, sender=self, dispatch_uid="core.cache_table"
        )
