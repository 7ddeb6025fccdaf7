"""Field history (django-simple-history): who changed what, bulk paths too."""

import pytest
from django.urls import reverse

from inventory.models import StockLevel
from orders.importing.services import orders_import
from orders.models import Order, OrderLine
from orders.services.allocation import orders_allocate
from orders.services.orders import order_update
from tests.orders.test_import import SAMPLE, catalogue  # noqa: F401


@pytest.mark.django_db
def test_order_change_in_the_admin_is_in_its_history_with_the_user(
    admin_client, product, stock, place_order, user
):
    stock(product, 5)
    order = place_order([(product, 1)])
    order_update(order=order, actor=user, changes={"ship_city": "Dallas"})

    newest = order.history.first()
    assert newest.ship_city == "Dallas"
    assert newest.history_type == "~"
    page = admin_client.get(reverse("admin:orders_order_history", args=[order.pk]))
    assert page.status_code == 200
    assert "Dallas" in page.content.decode()


@pytest.mark.django_db
def test_stock_changes_through_f_updates_keep_history(
    product, stock, place_order, user
):
    level = stock(product, 5)
    place_order([(product, 2)])

    states = list(
        StockLevel.history.filter(id=level.pk)
        .order_by("history_id")
        .values_list("on_hand", "allocated", "history_change_reason", "history_user_id")
    )
    assert (5, 0, "receipt", user.pk) in states
    assert (5, 2, "reserved for orders", None) in states


@pytest.mark.django_db
def test_bulk_import_and_allocation_keep_history(catalogue, user):  # noqa: F811
    result = orders_import(data=SAMPLE.read_bytes(), actor=user)
    order = Order.objects.get(pk=result.order_ids[0])

    created = order.history.get(history_type="+")
    assert created.history_user == user
    assert created.history_change_reason.startswith("imported from")
    assert OrderLine.history.filter(order_id=order.pk, history_type="+").count() == (
        order.lines.count()
    )

    orders_allocate(order_ids=result.order_ids, actor=user)
    assert order.history.filter(history_change_reason="allocation").exists()
