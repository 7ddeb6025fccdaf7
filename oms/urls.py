"""URL routes: the admin is the application."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from oms.views import health

admin.site.site_header = "OMS back office"
admin.site.site_title = "OMS"
admin.site.index_title = "Orders, stock and fulfilment"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    # Carriers post tracking updates here (token per carrier, JSON).
    path("api/", include("fulfillment.urls")),
    # Shops post their order webhooks here (Shopify, WooCommerce), and the
    # order API, its OpenAPI schema and docs (v1/).
    path("api/", include("connections.urls")),
    # The customer's order page: a signed link per order, no login.
    path("o/", include("oms.customer.urls")),
]
