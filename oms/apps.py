from django.apps import AppConfig


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every job the task engine runs is timed and carries its request id.
        from oms.health.queue import job_hooks_install

        job_hooks_install()
