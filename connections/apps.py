from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        # Handlers of the hooks the lower apps emit (core/hooks.py).
        from connections.outbox import handlers
        from core.hooks import (
            CUSTOMER_EMAIL,
            ORDER_EVENT,
            REFUND_APPROVED,
            SHIPMENT_EVENT,
            STAFF_EMAIL,
            STOCK_CHANGED,
            hook_register,
        )

        hook_register(STOCK_CHANGED, handlers.stock_changed_record)
        hook_register(ORDER_EVENT, handlers.order_event_record)
        hook_register(SHIPMENT_EVENT, handlers.shipment_event_record)
        hook_register(REFUND_APPROVED, handlers.refund_approved_record)
        hook_register(CUSTOMER_EMAIL, handlers.customer_email_record)
        hook_register(STAFF_EMAIL, handlers.staff_email_record_handler)
