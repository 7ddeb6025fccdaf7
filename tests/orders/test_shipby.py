"""Ship-by dates: cut-off, weekends, holidays, handling days, the location's
working days, daylight saving time, every intake source, and the due today /
late to ship filters and dashboard counts."""

import datetime
from datetime import UTC

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from inventory import workdays
from oms.dashboard import dashboard_context
from orders.models import Order, OrderStatus
from orders.services.shipby import ShipByCalendar, ship_by_for, ship_by_many
from tests.factories import ChannelFactory, LocationFactory, OrderFactory
from tests.orders.test_import import catalogue, csv_bytes, row, run  # noqa: F401

D = datetime.date


def at(text: str) -> datetime.datetime:
    """An aware datetime in the site time zone from 'YYYY-MM-DD HH:MM'."""
    return timezone.make_aware(datetime.datetime.fromisoformat(text))


@pytest.fixture
def web(db):
    return ChannelFactory(code="web", cutoff_time=datetime.time(14, 0))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("placed", "expected"),
    [
        # Wednesday before the cut-off: the same day.
        ("2026-11-18 13:59", D(2026, 11, 18)),
        # Wednesday at or after the cut-off: Thursday.
        ("2026-11-18 14:00", D(2026, 11, 19)),
        # Friday after the cut-off: over the weekend to Monday.
        ("2026-11-20 16:30", D(2026, 11, 23)),
        # Saturday morning, before the cut-off but not a working day: Monday.
        ("2026-11-21 09:00", D(2026, 11, 23)),
        # Sunday night: Monday.
        ("2026-11-22 23:59", D(2026, 11, 23)),
    ],
)
def test_ship_by_follows_cutoff_and_weekend(web, placed, expected):
    LocationFactory(code="RNO")
    assert ship_by_for(channel=web, placed_at=at(placed), country="US") == expected


@pytest.mark.django_db
def test_handling_days_count_working_days_only(web):
    LocationFactory(code="RNO")
    web.handling_days = 2
    # Thursday before the cut-off: Thursday + 2 working days = Monday.
    placed = at("2026-11-19 10:00")
    assert ship_by_for(channel=web, placed_at=placed, country="US") == D(2026, 11, 23)


@pytest.mark.django_db
def test_holiday_moves_ship_by_to_the_next_working_day(web):
    LocationFactory(code="RNO", holidays="2026-11-23\n2026-11-24")
    placed = at("2026-11-20 15:00")  # Friday after the cut-off
    assert ship_by_for(channel=web, placed_at=placed, country="US") == D(2026, 11, 25)


@pytest.mark.django_db
def test_working_days_of_the_location_serving_the_country(web):
    # The best-priority location does not ship to Germany; the one that does
    # works on Saturdays.
    LocationFactory(code="RNO", priority=1, ships_to=["US"])
    LocationFactory(code="BER", priority=5, ships_to=["DE"], working_days="123456")
    saturday = at("2026-11-21 10:00")
    assert ship_by_for(channel=web, placed_at=saturday, country="DE") == D(2026, 11, 21)
    assert ship_by_for(channel=web, placed_at=saturday, country="US") == D(2026, 11, 23)


@pytest.mark.django_db
def test_cutoff_is_read_on_the_local_clock_across_daylight_saving(web, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    LocationFactory(code="BER")
    # 12:30 UTC is 14:30 in Berlin in summer (after the cut-off) ...
    summer = datetime.datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    assert ship_by_for(channel=web, placed_at=summer, country="DE") == D(2026, 7, 2)
    # ... and 13:30 in winter (before it).
    winter = datetime.datetime(2026, 1, 7, 12, 30, tzinfo=UTC)
    assert ship_by_for(channel=web, placed_at=winter, country="DE") == D(2026, 1, 7)
    # Friday 23:30 UTC is already Saturday in Berlin: Monday.
    late = datetime.datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert ship_by_for(channel=web, placed_at=late, country="DE") == D(2026, 11, 23)


@pytest.mark.django_db
def test_without_locations_monday_to_friday_is_assumed(web):
    saturday = at("2026-11-21 10:00")
    assert ship_by_for(channel=web, placed_at=saturday, country="US") == D(2026, 11, 23)


@pytest.mark.django_db
def test_bulk_matches_one_by_one_in_two_queries(web, django_assert_num_queries):
    phone = ChannelFactory(code="phone", cutoff_time=datetime.time(11, 0))
    LocationFactory(code="RNO")
    rows = [
        (channel, at(placed), "US")
        for channel in (web, phone)
        for placed in ("2026-11-18 10:30", "2026-11-18 12:00", "2026-11-20 18:00")
    ]
    with django_assert_num_queries(2):
        bulk = ship_by_many(
            orders=[(c.pk, placed, country) for c, placed, country in rows]
        )
    calendar = ShipByCalendar.load()
    assert bulk == [
        ship_by_for(channel=c, placed_at=placed, country=country, calendar=calendar)
        for c, placed, country in rows
    ]
    # 12:00 is before the web shop's cut-off but after the phone channel's.
    assert bulk[1] == D(2026, 11, 18) and bulk[4] == D(2026, 11, 19)


@pytest.mark.django_db
def test_bulk_with_known_channels_reads_only_the_calendar(
    web, django_assert_num_queries
):
    placed = at("2026-11-18 15:00")
    with django_assert_num_queries(1):
        (ship_by,) = ship_by_many(
            orders=[(web.pk, placed, "US")],
            handling={web.pk: (web.cutoff_time, web.handling_days)},
        )
    assert ship_by == ship_by_for(channel=web, placed_at=placed, country="US")


@pytest.mark.django_db
def test_a_new_holiday_dates_the_next_orders_at_once(web, django_assert_num_queries):
    rows = [(web.pk, at("2026-11-20 09:00"), "US")]
    handling = {web.pk: (web.cutoff_time, web.handling_days)}
    assert ship_by_many(orders=rows, handling=handling) == [D(2026, 11, 20)]

    LocationFactory(code="MAIN", holidays="2026-11-20")
    with django_assert_num_queries(1):  # the locations' calendar, nothing kept
        fresh = ship_by_many(orders=rows, handling=handling)

    assert fresh == [D(2026, 11, 23)]  # the holiday moves it to Monday


def test_location_calendar_validators_name_the_bad_value():
    with pytest.raises(ValidationError, match="digits 1"):
        workdays.validate_working_days("1238")
    with pytest.raises(ValidationError, match="“2026-13-01” is not a date"):
        workdays.validate_holidays("2026-12-24, 2026-13-01")
    with pytest.raises(ValidationError, match="“9h” is not a time"):
        workdays.validate_wave_times("09:00, 9h")
    assert workdays.parse_wave_times("13:30, 09:00") == [
        datetime.time(9, 0),
        datetime.time(13, 30),
    ]


@pytest.mark.django_db
def test_order_create_sets_ship_by(web, place_order, product, stock):
    stock(product, 5)
    order = place_order([(product, 1)], placed_at=at("2026-11-20 15:00"))
    order.refresh_from_db()
    assert order.ship_by == D(2026, 11, 23)


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_import_sets_ship_by_on_every_order():
    result = run(
        csv_bytes(
            [
                row("A-1", placed_at="2026-11-18 10:00"),
                row("A-2", placed_at="2026-11-20 16:00"),
                row("A-3", channel="phone", placed_at="2026-11-21 08:00"),
            ]
        )
    )
    assert Order.objects.count() == 3, result.summary()
    ship_by = dict(Order.objects.values_list("external_id", "ship_by"))
    assert ship_by == {
        "A-1": D(2026, 11, 18),
        "A-2": D(2026, 11, 23),
        "A-3": D(2026, 11, 23),
    }


def _ship_by_orders(today: datetime.date) -> dict[str, Order]:
    yesterday = today - datetime.timedelta(days=1)
    return {
        "due": OrderFactory(ship_by=today, status=OrderStatus.ALLOCATED),
        "late": OrderFactory(ship_by=yesterday, status=OrderStatus.PICKING),
        "late_held": OrderFactory(
            ship_by=yesterday, status=OrderStatus.ON_HOLD, hold_reason="payment"
        ),
        "shipped_late": OrderFactory(ship_by=yesterday, status=OrderStatus.SHIPPED),
        "later": OrderFactory(
            ship_by=today + datetime.timedelta(days=1), status=OrderStatus.PENDING
        ),
        "none": OrderFactory(ship_by=None, status=OrderStatus.PENDING),
    }


@pytest.mark.django_db
def test_order_list_filters_due_today_and_late_to_ship(admin_client):
    orders = _ship_by_orders(timezone.localdate())
    url = reverse("admin:orders_order_changelist")
    due = admin_client.get(url, {"ship_by": "today"})
    late = admin_client.get(url, {"ship_by": "late"})
    assert due.status_code == late.status_code == 200
    assert {o.pk for o in due.context["cl"].result_list} == {orders["due"].pk}
    assert {o.pk for o in late.context["cl"].result_list} == {
        orders["late"].pk,
        orders["late_held"].pk,
    }


@pytest.mark.django_db
def test_dashboard_counts_due_today_and_late(admin_client, superuser):
    _ship_by_orders(timezone.localdate())
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Orders late to ship" in response.content.decode()
    context = dashboard_context(user=superuser)
    attention = {label: count for label, count, _url in context["attention"]}
    assert attention["Orders due to ship today"] == 1
    assert attention["Orders late to ship (ship-by date passed)"] == 2
