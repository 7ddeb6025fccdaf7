from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    # The admin section says what the messages and the README say.
    verbose_name = "Fulfilment"
    default_auto_field = "django.db.models.BigAutoField"
