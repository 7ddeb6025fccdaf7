from django.apps import AppConfig
from django.core.management import call_command
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

        # Infrastructure, not business logic: the table Django's cache needs.
        post_migrate.connect(
            cache_table_create, sender=self, dispatch_uid="core.cache_table"
        )
