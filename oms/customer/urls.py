"""The customer's order page: /o/<signed token>/ and its forms."""

from django.urls import path

from oms.customer import views

app_name = "customer"

urlpatterns = [
    path("<str:token>/", views.order_page, name="order"),
    path("<str:token>/delivery/", views.delivery_change, name="delivery"),
    path("<str:token>/request/", views.change_request, name="request"),
    path("<str:token>/cancel/", views.cancel, name="cancel"),
    path("<str:token>/return/", views.return_start, name="return"),
    path(
        "<str:token>/returns/<str:number>/label/",
        views.return_label,
        name="return_label",
    ),
]
