from django.apps import AppConfig


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oms import lookups  # noqa: F401 - registers the any_of lookup
