"""`/api/v1/`: the order API, its OpenAPI schema and its docs page."""

from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView

from connections.api.views import (
    OrderCancelView,
    OrderCreateView,
    OrderDetailView,
    StockView,
)

app_name = "api"

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url_name="api:schema"), name="docs"),
    path("orders", OrderCreateView.as_view(), name="orders"),
    path(
        "orders/<path:external_id>/cancel",
        OrderCancelView.as_view(),
        name="order_cancel",
    ),
    path("orders/<path:external_id>", OrderDetailView.as_view(), name="order"),
    path("stock", StockView.as_view(), name="stock"),
]
