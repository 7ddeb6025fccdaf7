"""Endpoints of the fulfillment app outside the admin."""

from django.urls import path

from fulfillment.views import carrier_tracking

app_name = "fulfillment"

urlpatterns = [
    path(
        "carriers/<slug:code>/tracking/",
        carrier_tracking,
        name="carrier_tracking",
    ),
]
