"""The dashboard: first page of the admin, per role, a fixed number of queries."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.charts import horizontal_bars
from oms.roles import WAREHOUSE, roles_setup
from orders.services.lifecycle import order_hold
from tests.factories import ChannelFactory, ProductFactory, UserFactory


@pytest.fixture
def busy(place_order, stock, user):
    """Orders over several days and statuses; call it again for more."""

    def add(n):
        for index in range(n):
            product = ProductFactory()
            stock(product, 2)
            order = place_order(
                [(product, 3 if index % 3 == 0 else 1)],
                placed_at=timezone.now() - timedelta(days=index % 20),
            )
            if index % 4 == 1:
                order_hold(order=order, actor=user, reason="payment")

    return add


def index_queries(client) -> tuple[int, str]:
    cache.clear()  # measure the uncached page: the worst case
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.django_db
def test_dashboard_is_the_first_page_with_charts_and_links(admin_client, busy):
    busy(8)
    _, page = index_queries(admin_client)
    assert 'id="oms-dashboard"' in page
    assert "Orders received today by channel" in page
    assert 'role="img"' in page and "<svg" in page
    assert f"{reverse('admin:orders_order_changelist')}?status=backordered" in page
    assert f"{reverse('admin:orders_order_changelist')}?status=on_hold" in page
    assert "Shipments in exception" in page
    # Bars carry their values as text: readable without colour.
    assert ">8</text>" in page


@pytest.mark.django_db
def test_dashboard_query_count_is_fixed(admin_client, busy):
    busy(3)
    few, _ = index_queries(admin_client)
    busy(15)
    ChannelFactory(code="marketplace", name="Marketplace")
    many, _ = index_queries(admin_client)
    assert many == few
    assert many <= 16


@pytest.mark.django_db
def test_dashboard_shows_each_role_what_it_may_see(client, busy):
    busy(2)
    warehouse = UserFactory(username="wh")
    warehouse.groups.add(roles_setup()[WAREHOUSE])
    client.force_login(warehouse)
    _, page = index_queries(client)
    assert "Shipments late against their ETA" in page

    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    _, page = index_queries(client)
    assert "Orders received today by channel" in page
    assert "Shipments late against their ETA" not in page
    assert "reorder point" not in page


def test_bar_chart_escapes_labels_and_writes_values():
    svg = horizontal_bars([("<b>web</b>", 3), ("phone", 1.5)], title="T & co")
    assert "&lt;b&gt;web&lt;/b&gt;" in svg and "<b>" not in svg
    assert ">3</text>" in svg and ">1.5</text>" in svg
    assert 'aria-label="T &amp; co"' in svg


@pytest.mark.django_db
def test_history_charts_are_cached_and_live_counts_are_not(admin_client, busy):
    busy(2)
    cold, _ = index_queries(admin_client)
    with CaptureQueriesContext(connection) as captured:
        admin_client.get(reverse("admin:index"))
    assert len(captured) < cold
    assert any("orders_order" in q["sql"] and "IN (" in q["sql"] for q in captured)
