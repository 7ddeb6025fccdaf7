"""The big admin lists stay cheap (core.admin_choices): filters built once
per page, filter choices kept in the shared cache (one read for all of a
page's filters) and forgotten when a channel, tag, location or carrier is
written; query counts that do not grow with rows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.services.channels import channel_connect
from core.admin_choices import filter_choices_forget
from orders.models import Order, OrderStatus, OrderTag
from tests import factories

ORDERS = reverse("admin:orders_order_changelist")
SHIPMENTS = reverse("admin:fulfillment_shipment_changelist")
# Every filter of the order list, one at a time and together with a date.
FILTER_PAGES = [
    "",
    "?status=allocated",
    "?status=on_hold&priority__exact=0",
    "?ship_by=late",
    "?ship_by=today",
    "?tag=1",
    "?ship_country=US",
    "?returned=none",
    "?late=yes",
    "?q=SO-T",
]


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.fixture
def orders(db):
    """Orders of every kind the list shows: held, odd references, tagged."""

    def add(n):
        made, start = [], Order.objects.count()
        if not start:  # a location: the ship-to country filter's choices
            factories.LocationFactory(country="US")
        for index in range(start, start + n):
            order = factories.OrderFactory(
                status=OrderStatus.ON_HOLD if index % 3 == 0 else "allocated",
                hold_reason="payment" if index % 3 == 0 else "",
                external_id=f"<b>ref & {index}</b>",
                ship_country="DE" if index % 2 else "US",
                total=Decimal("12.50"),
            )
            made.append(order)
        tag, _ = OrderTag.objects.get_or_create(name="vip")
        made[0].tags.add(tag)
        return made

    return add


@pytest.fixture
def choices_kept(settings):
    """Filter choices cached as in production (not under pytest's 0)."""
    settings.OMS_ADMIN_FILTER_CACHE_SECONDS = 60
    filter_choices_forget()
    yield
    filter_choices_forget()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["", "?status=on_hold", "?o=-3", "?p=2", "?ship_country=DE"]
)
def test_order_rows_show_status_and_escape_references(admin_client, orders, query):
    orders(60)
    response = admin_client.get(ORDERS + query)

    assert len(response.context["cl"].result_list) > 0
    page = response.content.decode()
    assert 'class="action-select"' in page and "oms-status-on_hold" in page
    assert "&lt;b&gt;ref &amp; " in page and "<b>ref" not in page  # escaped


@pytest.mark.django_db
def test_a_filter_page_builds_its_filters_once(admin_client, orders):
    """The status filter's date drill-down used to build every filter (and
    read its choices) a second time."""
    orders(3)
    unfiltered = queries_for(admin_client, ORDERS)
    assert queries_for(admin_client, ORDERS + "?status=allocated") <= 8
    # The unfiltered list also reads the table's row estimate.
    assert unfiltered <= 9


@pytest.mark.django_db
@pytest.mark.parametrize("query", FILTER_PAGES)
def test_filter_pages_read_no_choices_once_cached(
    admin_client, orders, choices_kept, query
):
    orders(3)
    admin_client.get(ORDERS)  # reads the choices once
    few = queries_for(admin_client, ORDERS + query)
    orders(12)
    many = queries_for(admin_client, ORDERS + query)

    assert many == few
    # Session, user, the choices (one shared-cache read), count, page, date
    # range (+ the search's own lookups; + the row estimate unfiltered).
    assert many <= 6 + ("q=" in query) * 2 + (query == "")


@pytest.mark.django_db
def test_filter_choices_are_offered_and_kept_in_the_shared_cache(
    admin_client, orders, choices_kept, settings
):
    orders(3)
    page = admin_client.get(ORDERS).content.decode()
    assert "vip" in page and "Germany" in page
    assert "Ada's shop" not in page

    factories.ChannelFactory(name="Ada's shop", code="ada")
    OrderTag.objects.create(name="gift")
    kept = admin_client.get(ORDERS).content.decode()
    assert "gift" not in kept  # the choices, as read a moment ago

    settings.OMS_ADMIN_FILTER_CACHE_SECONDS = 0
    fresh = admin_client.get(ORDERS).content.decode()
    assert "gift" in fresh and "Ada&#x27;s shop" in fresh


@pytest.mark.django_db
def test_a_channel_connected_or_a_tag_saved_in_the_admin_shows_at_once(
    admin_client, orders, choices_kept
):
    orders(3)
    assert "Ada&#x27;s shop" not in admin_client.get(ORDERS).content.decode()

    channel_connect(code="ada", platform="shopify", name="Ada's shop")
    assert "Ada&#x27;s shop" in admin_client.get(ORDERS).content.decode()

    added = admin_client.post(
        reverse("admin:orders_ordertag_add"), {"name": "gift-wrap"}
    )
    assert added.status_code == 302
    assert "gift-wrap" in admin_client.get(ORDERS).content.decode()


@pytest.mark.django_db
def test_filtering_by_a_tag_and_a_channel_works_with_cached_choices(
    admin_client, orders, choices_kept
):
    made = orders(4)
    admin_client.get(ORDERS)
    tag = OrderTag.objects.create(name="late-gift")  # not yet among the choices
    made[1].tags.add(tag)

    response = admin_client.get(f"{ORDERS}?tag={tag.pk}")
    assert [o.pk for o in response.context["cl"].result_list] == [made[1].pk]
    channel = made[2].channel_id
    response = admin_client.get(f"{ORDERS}?channel__id__exact={channel}")
    assert {o.channel_id for o in response.context["cl"].result_list} == {channel}
    assert Order.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?status__exact=shipped", "?late=yes"])
def test_shipment_list_reads_no_choices_once_cached(
    admin_client, shipped, product, choices_kept, query
):
    factories.LocationFactory(code="SECOND")  # two: the filter shows
    shipped([(product, 1)])
    admin_client.get(SHIPMENTS)  # reads the location and carrier choices once
    few = queries_for(admin_client, SHIPMENTS + query)
    shipped([(product, 1)])
    shipped([(product, 2)])
    many = queries_for(admin_client, SHIPMENTS + query)

    assert many == few
    # Session, user, the choices (one shared-cache read), count, page, date
    # range (+ the row estimate unfiltered).
    assert many <= 6 + (query == "")
    page = admin_client.get(SHIPMENTS).content.decode()
    assert "location__id__exact=" in page  # the location filter offers them
