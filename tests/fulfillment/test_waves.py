"""Scheduled pick waves: when they are due, what they take and in which
order, that a slot runs once, and what they write on the timelines."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.tasks import periodic_schedule
from fulfillment.models import PickList, PickWave
from fulfillment.services.waves import (
    pick_wave_run,
    pick_wave_slots_due,
    pick_waves_run_due,
)
from orders.models import Order, OrderEvent, OrderStatus
from tests.factories import LocationFactory, ProductFactory


def at(text: str) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.fromisoformat(text))


WEDNESDAY_0905 = "2026-11-18 09:05"


@pytest.fixture
def warehouse(location):
    location.wave_times = "09:00, 13:30"
    location.wave_size = 50
    location.save()
    return location


@pytest.fixture
def allocated(place_order, product, stock, warehouse):
    """Place allocated orders: allocated(ship_by=..., priority=..., placed=...)."""
    stock(product, 100)

    def place(*, ship_by=None, priority=0, placed="2026-11-17 10:00"):
        order = place_order([(product, 1)], priority=priority, placed_at=at(placed))
        assert order.status == OrderStatus.ALLOCATED
        Order.objects.filter(pk=order.pk).update(ship_by=ship_by)
        return order

    return place


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-11-18 08:59", []),
        ("2026-11-18 09:00", ["09:00"]),
        ("2026-11-18 09:59", ["09:00"]),
        # Missed by more than an hour (no worker ran): skipped, not run late.
        ("2026-11-18 10:01", []),
        ("2026-11-18 13:45", ["13:30"]),
        # Saturday is not a working day of the location.
        ("2026-11-21 09:05", []),
    ],
)
def test_waves_are_due_at_their_times_on_working_days(warehouse, now, due):
    LocationFactory(code="OFF", wave_times="09:00", active=False)
    slots = pick_wave_slots_due(now=at(now))
    assert [
        (location.code, timezone.localtime(when).strftime("%H:%M"))
        for location, when in slots
    ] == [(warehouse.code, time) for time in due]


@pytest.mark.django_db
def test_wave_run_twice_in_one_slot_makes_one_wave(allocated, warehouse):
    orders = [allocated(), allocated()]
    first = pick_waves_run_due(now=at(WEDNESDAY_0905))
    again = pick_waves_run_due(now=at("2026-11-18 09:20"))
    assert len(first) == 1 and again == []
    assert PickWave.objects.count() == 1
    assert PickList.objects.count() == 1
    assert PickWave.objects.filter(location=warehouse).count() == 1
    wave = first[0]
    assert wave.order_count == 2
    assert timezone.localtime(wave.scheduled_for).strftime("%H:%M") == "09:00"
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "status", flat=True
        )
    ) == {OrderStatus.PICKING}
    # Run directly for the same slot again: nothing new.
    assert pick_wave_run(location=warehouse, scheduled_for=wave.scheduled_for) is None
    assert PickList.objects.count() == 1


@pytest.mark.django_db
def test_wave_takes_earliest_ship_by_then_priority_then_oldest_up_to_its_size(
    allocated, warehouse
):
    warehouse.wave_size = 3
    warehouse.save()
    day = datetime.date(2026, 11, 18)
    late_urgent = allocated(ship_by=day + datetime.timedelta(days=2), priority=2)
    no_date = allocated(ship_by=None, priority=2)
    today_old = allocated(ship_by=day, placed="2026-11-16 08:00")
    today_new = allocated(ship_by=day, placed="2026-11-17 08:00")
    today_high = allocated(ship_by=day, priority=1, placed="2026-11-17 09:00")
    [wave] = pick_waves_run_due(now=at(WEDNESDAY_0905))
    picked = set(
        Order.objects.filter(status=OrderStatus.PICKING).values_list("pk", flat=True)
    )
    assert picked == {today_high.pk, today_old.pk, today_new.pk}
    assert wave.order_count == 3
    # The next wave takes the rest, dated ones first.
    [_later] = pick_waves_run_due(now=at("2026-11-18 13:35"))
    left = Order.objects.filter(pk__in=[late_urgent.pk, no_date.pk])
    assert set(left.values_list("status", flat=True)) == {OrderStatus.PICKING}


@pytest.mark.django_db
def test_wave_only_takes_orders_reserved_at_its_location(
    allocated, warehouse, place_order, stock
):
    mine = allocated()
    elsewhere = LocationFactory(code="ELS", priority=50)
    other_product = ProductFactory(sku="ONLY-ELS")
    stock(other_product, 5, at=elsewhere)
    theirs = place_order([(other_product, 1)])
    [wave] = pick_waves_run_due(now=at(WEDNESDAY_0905))
    assert wave.order_count == 1
    assert Order.objects.get(pk=mine.pk).status == OrderStatus.PICKING
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.ALLOCATED


@pytest.mark.django_db
def test_wave_is_on_the_orders_and_pick_list_timelines_as_scheduled(
    allocated, admin_client
):
    order = allocated()
    [wave] = pick_waves_run_due(now=at(WEDNESDAY_0905))
    pick_list = wave.pick_lists.get()
    entry = OrderEvent.objects.get(order=order, data__scheduled_wave=wave.pk)
    assert entry.message.startswith("Scheduled: on the 09:00 pick wave at RNO")
    assert pick_list.number in entry.message
    page = admin_client.get(
        reverse("admin:fulfillment_picklist_change", args=[pick_list.pk])
    )
    assert page.status_code == 200
    assert "Scheduled wave" in page.content.decode()


@pytest.mark.django_db
def test_wave_with_nothing_to_pick_is_recorded_once(warehouse):
    [wave] = pick_waves_run_due(now=at(WEDNESDAY_0905))
    assert wave.order_count == 0 and "Nothing to pick" in wave.note
    assert PickList.objects.count() == 0
    assert pick_waves_run_due(now=at(WEDNESDAY_0905)) == []


def test_waves_run_from_the_scheduled_work():
    schedule = periodic_schedule()
    assert schedule["fulfillment.services.waves.pick_waves_run_due_task"] == (
        "* * * * *"
    )


@pytest.mark.django_db
def test_location_page_refuses_a_bad_wave_time_naming_it(warehouse, admin_client):
    url = reverse("admin:inventory_location_change", args=[warehouse.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name != "ships_to"
    }
    data.update(country="US", wave_times="09:00, 9h", working_days="12345")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "“9h” is not a time of day" in response.content.decode()
    warehouse.refresh_from_db()
    assert warehouse.wave_times == "09:00, 13:30"


@pytest.mark.django_db
def test_wave_log_lists_waves_with_their_pick_lists(allocated, admin_client):
    allocated()
    [wave] = pick_waves_run_due(now=at(WEDNESDAY_0905))
    page = admin_client.get(reverse("admin:fulfillment_pickwave_changelist"))
    assert page.status_code == 200
    assert wave.pick_lists.get().number in page.content.decode()
