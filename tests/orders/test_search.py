"""Finding orders: every kind of search term through the order list."""

import pytest
from django.urls import reverse

from core.admin_utils import LargeTablePaginator
from orders.models import Order
from tests.factories import CustomerFactory, OrderFactory


@pytest.fixture
def orders(db):
    ada = CustomerFactory(
        email="Ada.Lovelace@Example.com", name="Ada Lovelace", phone="+1 555 0100"
    )
    grace = CustomerFactory(email="grace@example.com", name="Grace Hopper")
    return {
        "ada": OrderFactory(number="SO-000123", external_id="#1001", customer=ada),
        "grace": OrderFactory(
            number="SO-000124",
            external_id="WEB-77",
            customer=grace,
            ship_phone="030 1234567",
        ),
    }


def found(client, term: str) -> set[str]:
    # list=1: the list even for one hit (one hit opens the order otherwise).
    response = client.get(
        reverse("admin:orders_order_changelist"), {"q": term, "list": "1"}
    )
    assert response.status_code == 200
    return {order.number for order in response.context["cl"].result_list}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("SO-000123", {"SO-000123"}),
        ("so-000123", {"SO-000123"}),
        ("123", {"SO-000123"}),
        ("#1001", {"SO-000123"}),
        ("WEB-77", {"SO-000124"}),
        ("ADA.LOVELACE@EXAMPLE.COM", {"SO-000123"}),
        ("+1 555 0100", {"SO-000123"}),
        ("030 1234567", {"SO-000124"}),
        ("hopper", {"SO-000124"}),
        ("nobody", set()),
    ],
)
def test_search_finds_orders_by_each_kind_of_term(admin_client, orders, term, expected):
    assert found(admin_client, term) == expected


@pytest.mark.django_db
def test_paginator_counts_only_up_to_its_cap(orders, settings):
    paginator = LargeTablePaginator(Order.objects.all(), 1)
    paginator.cap = 1
    assert paginator.count == 2  # "more than one": the cap plus one
    assert LargeTablePaginator(Order.objects.filter(number="SO-000123"), 10).count == 1


@pytest.mark.django_db
def test_date_drill_down_is_offered_from_date_ranges(admin_client, orders):
    response = admin_client.get(reverse("admin:orders_order_changelist"))
    assert "placed_at__year" in response.content.decode() or "placed_at__month" in (
        response.content.decode()
    )
