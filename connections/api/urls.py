"""`/api/v1/`: the order API, its OpenAPI schema and its docs page (Swagger UI)."""

from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from connections.api.views import (
    OrderCancelView,
    OrderCreateView,
    OrderDetailView,
    StockView,
)

app_name = "api"

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    # Swagger UI with its start script served apart (`?script`): the page
    # needs no inline script under the Content Security Policy.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/docs.html"
        ),
        name="docs",
    ),
    path("orders", OrderCreateView.as_view(), name="orders"),
    path(
        "orders/<path:external_id>/cancel",
        OrderCancelView.as_view(),
        name="order_cancel",
    ),
    path("orders/<path:external_id>", OrderDetailView.as_view(), name="order"),
    path("stock", StockView.as_view(), name="stock"),
]
