"""URL routes: the admin is the application."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from oms.health import views as health_views
from oms.health.metrics import metrics
from oms.views import health

admin.site.site_header = "OMS back office"
admin.site.site_title = "OMS"
admin.site.index_title = "Orders, stock and fulfilment"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    # The load balancer's probes and Prometheus's scrape (docs/operations.md).
    path("health/live", health_views.live, name="health-live"),
    path("health/ready", health_views.ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    # Carriers post tracking updates here (token per carrier, JSON).
    path("api/", include("fulfillment.urls")),
    # Shops post their order webhooks here (Shopify, WooCommerce), and the
    # order API, its OpenAPI schema and docs (v1/).
    path("api/", include("connections.urls")),
    # The customer's order page: a signed link per order, no login.
    path("o/", include("oms.customer.urls")),
]
