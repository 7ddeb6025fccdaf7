"""The order page: a country chosen by name, the address checked against its
country, and what a country change did to the stock said on screen."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Order, OrderStatus
from tests.factories import LocationFactory, ProductFactory
from tests.orders.test_optimistic_locking import form_data


def change_url(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_country_is_a_choice_shown_by_name(admin_client, product, stock, place_order):
    stock(product, 1)
    order = place_order([(product, 1)])

    page = admin_client.get(change_url(order))

    assert page.status_code == 200
    assert '<option value="DE">Germany</option>' in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["XX", "Germany"])
def test_country_that_is_not_a_code_of_the_list_is_refused(
    admin_client, product, stock, place_order, typed
):
    stock(product, 1)
    order = place_order([(product, 1)])
    page = admin_client.get(change_url(order))

    response = admin_client.post(
        change_url(order), form_data(page) | {"ship_country": typed}
    )

    assert response.status_code == 200
    assert "ship_country" in response.context["adminform"].form.errors
    assert Order.objects.get(pk=order.pk).ship_country == "US"


@pytest.mark.django_db
def test_postcode_that_does_not_fit_the_country_shows_on_the_field(
    admin_client, product, stock, place_order
):
    stock(product, 1)
    order = place_order([(product, 1)])
    page = admin_client.get(change_url(order))

    response = admin_client.post(
        change_url(order),
        form_data(page)
        | {"ship_country": "DE", "ship_region": "", "ship_postcode": "1011"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["ship_postcode"] == [
        "'1011' is not a postcode in Germany (like 26133 or 53225)."
    ]
    assert Order.objects.get(pk=order.pk).ship_country == "US"


@pytest.fixture
def sites(location):
    location.ships_to = ["US"]
    location.save()
    return {
        "us": location,
        "eu": LocationFactory(code="BER", priority=1, country="DE", ships_to=["DE"]),
    }


@pytest.mark.django_db
def test_country_change_that_moves_the_reservation_says_so(
    admin_client, sites, stock, place_order
):
    product = ProductFactory(sku="A")
    stock(product, 1, at=sites["us"])
    stock(product, 1, at=sites["eu"])
    order = place_order([(product, 1)])
    page = admin_client.get(change_url(order))

    response = admin_client.post(
        change_url(order),
        form_data(page)
        | {
            "ship_country": "DE",
            "ship_city": "Berlin",
            "ship_region": "",
            "ship_postcode": "10115",
        },
    )

    assert response.status_code == 302
    assert (
        f"Reservation of order {order.number} moved from RNO to BER (the new "
        "country is Germany)." in messages_of(response)
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED


@pytest.mark.django_db
def test_country_change_that_gives_stock_back_says_so(
    admin_client, sites, stock, place_order
):
    product = ProductFactory(sku="A")
    stock(product, 1, at=sites["us"])
    order = place_order([(product, 1)])
    page = admin_client.get(change_url(order))

    response = admin_client.post(
        change_url(order),
        form_data(page)
        | {
            "ship_country": "FR",
            "ship_city": "Paris",
            "ship_region": "",
            "ship_postcode": "75001",
        },
    )

    assert response.status_code == 302
    assert (
        f"Stock released: order {order.number} is backordered because no "
        "location ships to France." in messages_of(response)
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.BACKORDERED
