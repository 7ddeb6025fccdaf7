from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        # Handlers of the hooks the lower apps emit (core/hooks.py).
        pass
