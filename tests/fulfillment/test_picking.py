"""Pick lists made by hand take orders as scheduled waves do: earliest
ship-by first (none last), then priority, then oldest; a location's list
takes at most its wave size, the rest wait for the next list."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from fulfillment.models import PickList, Shipment
from fulfillment.services.picking import pick_lists_create
from orders.models import Order, OrderStatus
from tests.factories import LocationFactory, ProductFactory
from tests.fulfillment.test_admin import run_action

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 18)


def at(text: str) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.fromisoformat(text))


@pytest.fixture
def allocated(place_order, product, stock):
    """allocated(ship_by=..., priority=..., placed=...): an allocated order."""
    stock(product, 100)

    def place(*, ship_by=None, priority=0, placed="2026-11-17 10:00", items=None):
        order = place_order(
            items or [(product, 1)], priority=priority, placed_at=at(placed)
        )
        assert order.status == OrderStatus.ALLOCATED
        Order.objects.filter(pk=order.pk).update(ship_by=ship_by)
        return Order.objects.get(pk=order.pk)

    return place


def test_list_follows_ship_by_then_priority_then_oldest(allocated, user):
    # Placed in this (pk) order; picked in the opposite one.
    no_date = allocated(ship_by=None, priority=2, placed="2026-11-10 08:00")
    later = allocated(ship_by=DAY + datetime.timedelta(days=1), priority=2)
    today_new = allocated(ship_by=DAY, placed="2026-11-17 08:00")
    today_old = allocated(ship_by=DAY, placed="2026-11-16 08:00")
    today_urgent = allocated(ship_by=DAY, priority=2, placed="2026-11-17 09:00")
    in_pick_order = [today_urgent, today_old, today_new, later, no_date]

    wave = pick_lists_create(
        order_ids=[o.pk for o in reversed(in_pick_order)], actor=user
    )

    assert [o.pk for o in wave.orders] == [o.pk for o in in_pick_order]
    # Shipment numbers (and so the list's shipments) run in the same order.
    numbered = Shipment.objects.order_by("number").values_list("order_id", flat=True)
    assert list(numbered) == [o.pk for o in in_pick_order]


def test_admin_action_over_the_list_size_takes_the_earliest_ship_by(
    admin_client, allocated, location
):
    location.wave_size = 2
    location.save()
    first_placed = allocated(ship_by=DAY + datetime.timedelta(days=3))
    urgent_no_date = allocated(ship_by=None, priority=2)
    due_today = allocated(ship_by=DAY)
    due_tomorrow = allocated(ship_by=DAY + datetime.timedelta(days=1))
    selected = [first_placed, urgent_no_date, due_today, due_tomorrow]

    response = run_action(admin_client, Order, "create_pick_lists", selected)

    assert response.status_code == 302
    picking = set(
        Order.objects.filter(status=OrderStatus.PICKING).values_list("pk", flat=True)
    )
    assert picking == {due_today.pk, due_tomorrow.pk}
    assert PickList.objects.count() == 1
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert (
        f"Left out: {first_placed.number}, {urgent_no_date.number} wait for the next "
        f"pick list ({location.code}'s takes at most 2 orders, earliest ship-by "
        "first)."
    ) in said
    # The next list takes the rest, the dated one first.
    again = pick_lists_create(
        order_ids=[first_placed.pk, urgent_no_date.pk], actor=None
    )
    assert [o.pk for o in again.orders] == [first_placed.pk, urgent_no_date.pk]


def test_an_order_is_left_out_whole_when_one_of_its_lists_is_full(
    allocated, location, stock, user
):
    other = LocationFactory(code="ELS", priority=50, wave_size=1)
    here_only, there_only = ProductFactory(), ProductFactory()
    stock(here_only, 5)
    stock(there_only, 5, at=other)
    earliest = allocated(ship_by=DAY, items=[(there_only, 1)])
    # No location holds both: split over RNO and ELS.
    both = allocated(ship_by=DAY, items=[(here_only, 1), (there_only, 1)])

    wave = pick_lists_create(order_ids=[earliest.pk, both.pk], actor=user)

    assert [o.pk for o in wave.orders] == [earliest.pk]
    assert not Shipment.objects.filter(order=both).exists()
    assert Order.objects.get(pk=both.pk).status == OrderStatus.ALLOCATED
    assert any(both.number in note and "ELS" in note for note in wave.skipped)
