"""Endpoints of the orders app outside the admin: shop webhooks."""

from django.urls import path

from orders.intake.views import shopify_webhook, woocommerce_webhook

app_name = "orders"

urlpatterns = [
    path(
        "channels/<slug:code>/webhooks/shopify/",
        shopify_webhook,
        name="shopify_webhook",
    ),
    path(
        "channels/<slug:code>/webhooks/woocommerce/",
        woocommerce_webhook,
        name="woocommerce_webhook",
    ),
]
