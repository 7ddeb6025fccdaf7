from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.hooks import STOCK_AVAILABLE, hook_register
        from orders.services.allocation import stock_available

        # Stock freed or received: waiting backorders are allocated again.
        hook_register(STOCK_AVAILABLE, stock_available)
