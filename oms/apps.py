from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_tallies(sender, using, **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table:
    put the order tally triggers back after every migrate (a no-op when they
    are there)."""
    from django.db import connections

    from oms.tallies import tallies_ensure

    if connections[using].vendor in ("postgresql", "sqlite"):
        tallies_ensure()


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_ensure_tallies, sender=self, dispatch_uid="oms-tallies")
