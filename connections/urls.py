"""Endpoints of the connections app under `/api/`: shop webhooks (namespace
`connections`) and the order API at `v1/` (namespace `api`)."""

from django.urls import include, path

from connections.inbox.webhooks import shopify_webhook, woocommerce_webhook

webhooks = [
    # Shops post their order webhooks here (Shopify, WooCommerce).
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

urlpatterns = [
    path("", include((webhooks, "connections"))),
    # The order API, its OpenAPI schema and docs.
    path("v1/", include("connections.api.urls")),
]
