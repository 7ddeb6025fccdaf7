"""The dashboard: first page of the admin, per role, a fixed number of queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.charts import column_series, horizontal_bars
from oms.dashboard import dashboard_context, dashboard_figures_refresh_now
from oms.models import DashboardFigure
from oms.roles import WAREHOUSE, roles_setup
from oms.tallies import tallies_fold_now
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
    # As the worker leaves it: history figures computed, tally changes folded.
    dashboard_figures_refresh_now()
    tallies_fold_now()
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
    assert many <= 17


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
def test_history_figures_are_read_from_their_periodic_refresh(admin_client, busy):
    busy(2)
    DashboardFigure.objects.all().delete()
    with CaptureQueriesContext(connection) as first:
        assert admin_client.get(reverse("admin:index")).status_code == 200
    # A new install: computed once on the page, then stored for the others.
    assert set(DashboardFigure.objects.values_list("name", flat=True)) == {
        "ship-time",
        "returns",
    }
    with CaptureQueriesContext(connection) as later:
        admin_client.get(reverse("admin:index"))
    assert len(later) < len(first)
    assert not any(
        "fulfillment_shipment" in q["sql"] and "MIN(" in q["sql"].upper() for q in later
    )
    before = DashboardFigure.objects.get(name="ship-time").computed_at
    dashboard_figures_refresh_now()
    assert DashboardFigure.objects.get(name="ship-time").computed_at > before


@pytest.mark.django_db
def test_order_counts_are_live_and_exact_before_any_fold(admin_user, busy):
    def figures():
        context = dashboard_context(user=admin_user)
        backlog = {label: n for label, n, _ in context["backlog"]}
        return backlog, context["orders_today"], context["orders_30_days"]

    busy(4)
    tallies_fold_now()
    backlog, today, month = figures()
    assert sum(backlog.values()) == 4 and month == 4
    busy(1)  # one more order today; nothing folded since
    after, today_after, month_after = figures()
    assert (today_after, month_after) == (today + 1, month + 1)
    # The new order is allocated or backordered (it asks for more than is there).
    assert sum(after.values()) == sum(backlog.values()) + 1
    assert len({label for label in after if after[label] != backlog[label]}) == 1
    tallies_fold_now()
    assert figures() == (after, today_after, month_after)


# ---- issue 14: the width of the screen, titled charts with axes, and what
# needs a manager's attention


@pytest.fixture
def failures(shipped, user):
    """One of each thing a manager must act on, plus one that needs nothing."""
    from fulfillment.models import PrintJob, WebhookDelivery
    from orders.models import ImportJob
    from returns.services.refunds import refund_create

    def add(n=1):
        for _ in range(n):
            order = shipped([(ProductFactory(), 1)])
            refund_create(order=order, amount="1.00", actor=user)
            ImportJob.objects.create(filename="a.csv", source=None, status="failed")
            ImportJob.objects.create(filename="b.csv", source=None, status="done")
            PrintJob.objects.create(kind="shipping_label", status="failed")
            for attempt, retry_at in (
                (WebhookDelivery.MAX_ATTEMPTS, None),
                (2, timezone.now()),
            ):
                WebhookDelivery.objects.create(
                    channel=order.channel,
                    order=order,
                    event="shipment.shipped",
                    url="https://shop.example/hook",
                    attempt=attempt,
                    next_attempt_at=retry_at,
                )

    return add


def attention(page: str) -> dict[str, tuple[str, str]]:
    """The "Needs attention" rows: label -> (count, link)."""
    import re

    block = page[page.index('id="dash-attention"') :]
    block = block[: block.index("</table>")]
    return {
        label: (count, link.replace("&amp;", "&"))
        for link, label, count in re.findall(
            r'<td><a href="([^"]+)">([^<]+)</a></td><td class="oms-count">'
            r'<a href="[^"]+"><strong>(\d+)</strong>',
            block,
        )
    }


@pytest.mark.django_db
def test_dashboard_shows_a_manager_what_needs_attention_with_filtered_links(
    client, failures
):
    from oms.roles import MANAGER

    failures(1)
    manager = UserFactory(username="boss")
    manager.groups.add(roles_setup()[MANAGER])
    client.force_login(manager)

    _, page = index_queries(client)
    rows = attention(page)

    assert rows["Refunds awaiting your approval"][0] == "1"
    assert rows["Order imports that failed"][0] == "1"
    assert rows["Print batches that failed"][0] == "1"
    # The delivery with a retry planned has not given up.
    assert rows["Webhook deliveries that gave up (last 7 days)"][0] == "1"
    for label, (count, link) in rows.items():
        listed = client.get(link)
        assert listed.status_code == 200, label
        assert listed.context["cl"].result_count == int(count), label


@pytest.mark.django_db
def test_dashboard_hides_approvals_from_those_who_cannot_approve(client, failures):
    failures(1)
    warehouse = UserFactory(username="wh2")
    warehouse.groups.add(roles_setup()[WAREHOUSE])
    client.force_login(warehouse)

    _, page = index_queries(client)

    assert "Refunds awaiting your approval" not in page
    assert "Order imports that failed" not in page
    assert "Print batches that failed" in page
    # Shop and customer messages are a manager's to replay, not the floor's.
    assert "Webhook deliveries that gave up" not in page
    assert "Messages to shops and customers that failed" not in page
    assert "Order messages that failed" not in page


@pytest.mark.django_db
def test_dashboard_query_count_stays_fixed_with_failures(admin_client, failures):
    failures(1)
    few, _ = index_queries(admin_client)
    failures(4)
    many, _ = index_queries(admin_client)
    assert many == few
    assert many <= 17


@pytest.mark.django_db
def test_dashboard_charts_scale_to_their_box_with_titles_and_axes(admin_client, busy):
    busy(4)
    _, page = index_queries(admin_client)
    assert "#oms-dashboard" not in page  # styles live in the shared stylesheet
    assert "admin/oms.css" in page
    charts = page.split('<figure class="oms-chart-figure">')[1:]
    assert len(charts) == 5
    for chart in charts:
        assert '<figcaption class="oms-chart-title">' in chart
        svg = chart[chart.index("<svg") : chart.index(">", chart.index("<svg"))]
        assert re.search(r' width="[0-9.]+"', svg) and "viewBox=" in svg
        assert "height=" not in svg and "style=" not in svg
    assert ">orders</text>" in page and ">day placed</text>" in page


def test_bar_chart_has_a_value_axis_with_round_ticks_and_a_label():
    svg = horizontal_bars(
        [("web", 7), ("phone", 3)], title="Orders", value_label="orders"
    )
    for tick in ("0", "2", "4", "6", "8"):
        assert f">{tick}</text>" in svg
    assert ">orders</text>" in svg
    assert "<figcaption" in svg and ">Orders</figcaption>" in svg


def test_bar_chart_shortens_long_labels_and_keeps_them_whole_in_the_tooltip():
    name = "A channel with a name far too long for the room beside a bar"
    svg = horizontal_bars([(name, 1)], title="T")
    assert f"<title>{name}: 1</title>" in svg
    assert f">{name}</text>" not in svg and "…</text>" in svg


def test_bar_chart_writes_counted_units_in_the_singular_and_plural():
    svg = horizontal_bars([("a", 1), ("b", 2)], title="T", unit=("return", "returns"))
    assert ">1 return</text>" in svg and ">2 returns</text>" in svg


def test_nice_ticks_are_round_and_reach_the_top():
    from core.charts import nice_ticks

    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(1) == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(130)[-1] >= 130


def test_count_ticks_are_whole_numbers():
    from core.charts import nice_ticks

    assert nice_ticks(1, whole=True) == [0, 1]
    assert nice_ticks(3, whole=True) == [0, 1, 2, 3]
    assert nice_ticks(7, whole=True) == [0, 2, 4, 6, 8]


def test_todays_orders_chart_counts_in_whole_orders():
    svg = horizontal_bars(
        [("web", 1), ("phone", 2)], title="Today", value_label="orders", counts=True
    )

    ticks = re.findall(r'font-size="11" fill="#666">([0-9.]+)</text>', svg)
    assert ticks == ["0", "1", "2"]


def test_bar_chart_label_column_is_as_wide_as_its_widest_label():
    from core.charts import text_width

    label = "WHOLESALE MARKETPLACE"
    svg = horizontal_bars([(label, 3)], title="T")

    axis = re.search(r'<line x1="([0-9.]+)" y1="6" x2="\1"', svg)
    assert axis is not None
    # The label ends 6 px left of the axis and must start inside the chart.
    assert float(axis.group(1)) - 6 - text_width(label) >= 0


def test_column_chart_left_margin_fits_its_tick_labels():
    from core.charts import text_width

    svg = column_series(
        [("1 Dec", 12000), ("2 Dec", 3)], title="T", value_label="orders", counts=True
    )

    ticks = re.findall(
        r'<text x="([0-9.]+)" y="[0-9.]+" text-anchor="end" font-size="11" '
        r'fill="#666">([0-9.]+)</text>',
        svg,
    )
    assert ticks
    for x, tick in ticks:
        # Right-aligned at x: it starts past the rotated axis name (22 px).
        assert float(x) - text_width(tick, 11) >= 22


def test_count_ticks_skip_steps_of_two_and_a_half():
    from core.charts import nice_ticks

    assert nice_ticks(10, whole=True) == [0, 5, 10]
