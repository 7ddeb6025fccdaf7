"""The order admin (orders.admin.orders, order_page, order_list) at scale: the
order page's queries do not grow with its lines and timeline, and the order
list pages by seeking past its numbered pages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import OrderEvent
from tests.factories import OrderFactory, ProductFactory


def big_order(lines: int, events: int):
    order = OrderFactory()
    for _ in range(lines):
        product = ProductFactory()
        order.lines.create(
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=1,
            unit_price=1,
            total=1,
        )
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, kind="status", message=f"Step {n}")
        for n in range(events)
    )
    return order


def page_queries(client, order) -> list[str]:
    url = reverse("admin:orders_order_change", args=[order.pk])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in captured]


@pytest.mark.django_db
def test_order_page_with_50_lines_and_100_events_takes_at_most_10_queries(
    admin_client,
):
    small_order = big_order(2, 3)
    page_queries(admin_client, small_order)  # the first page view warms caches
    small = page_queries(admin_client, small_order)
    large = page_queries(admin_client, big_order(50, 100))
    assert len(large) == len(small)
    assert len(large) <= 10


@pytest.fixture
def history():
    """Orders one hour apart, newest first by id too; two share a moment."""
    now = timezone.now().replace(microsecond=0)
    orders = [OrderFactory(placed_at=now - timedelta(hours=n)) for n in range(120)]
    twin = OrderFactory(placed_at=orders[60].placed_at)
    return orders, twin


def listed(client, query: str = "") -> tuple:
    response = client.get(reverse("admin:orders_order_changelist") + query)
    assert response.status_code == 200
    cl = response.context["cl"]
    return [o.pk for o in cl.result_list], cl, response


@pytest.mark.django_db
def test_order_list_seeks_to_older_orders_past_its_numbered_pages(
    admin_client, history
):
    from orders.admin.order_list import OrderListPaginator
    from orders.models import Order

    orders, twin = history
    expected = [
        o.pk
        for o in sorted(
            [*orders, twin], key=lambda o: (o.placed_at, o.pk), reverse=True
        )
    ]
    seen, query, pages = [], "", 0
    while True:
        page, cl, response = listed(admin_client, query)
        seen += page
        pages += 1
        older = cl.older_url()
        if pages > 1:
            assert cl.newest_url() and "before" not in cl.newest_url()
        if not older:
            break
        query = older
        assert "Older orders" in response.content.decode()
    # Every order once, newest first, the two of the same moment included.
    assert seen == expected and pages == 3

    # Numbered pages stop at max_pages; beyond is the list's error page.
    paginator = OrderListPaginator(Order.objects.order_by("-placed_at", "-pk"), 1)
    assert paginator.num_pages == OrderListPaginator.max_pages
    response = admin_client.get(reverse("admin:orders_order_changelist") + "?p=30")
    assert response.status_code == 302 and "e=1" in response["Location"]

    # A malformed position is reported and ignored; filters still apply.
    page, cl, response = listed(admin_client, "?before=yesterday&status=pending")
    assert page == expected[:50]
    assert "Ignored before=" in response.content.decode()
