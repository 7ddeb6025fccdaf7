"""Routing: whole order from one place, priority, ships-to, split; backorders."""

import pytest

from inventory.allocation import Demand, Source, plan_allocation
from inventory.models import Allocation, StockLevel
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.lifecycle import order_cancel
from orders.services.order_edits import order_update
from tests.factories import LocationFactory, ProductFactory


@pytest.fixture
def sites(db):
    return {
        "near": LocationFactory(code="NEAR", priority=1, ships_to="US"),
        "far": LocationFactory(code="FAR", priority=5, ships_to="US,CA"),
        "eu": LocationFactory(code="EU", priority=1, country="DE", ships_to="DE,FR"),
    }


def reserved_at(order):
    return sorted(
        Allocation.objects.filter(order_line__order=order).values_list(
            "stock_level__location__code", "order_line__sku", "quantity"
        )
    )


@pytest.mark.django_db
def test_one_location_that_has_everything_beats_a_better_priority(
    sites, stock, place_order
):
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    stock(a, 5, at=sites["near"])  # near has only A
    stock(a, 5, at=sites["far"])
    stock(b, 5, at=sites["far"])

    order = place_order([(a, 1), (b, 1)])

    assert order.status == OrderStatus.ALLOCATED
    assert reserved_at(order) == [("FAR", "A", 1), ("FAR", "B", 1)]


@pytest.mark.django_db
def test_priority_decides_between_locations_that_both_can_ship(
    sites, stock, place_order
):
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["far"])
    stock(a, 5, at=sites["near"])

    order = place_order([(a, 2)])

    assert reserved_at(order) == [("NEAR", "A", 2)]


@pytest.mark.django_db
def test_only_locations_that_ship_to_the_country_are_used(sites, stock, place_order):
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["eu"])
    stock(a, 5, at=sites["far"])

    canadian = place_order([(a, 1)], country="CA")
    french = place_order([(a, 1)], country="FR")
    japanese = place_order([(a, 1)], country="JP")

    assert reserved_at(canadian) == [("FAR", "A", 1)]
    assert reserved_at(french) == [("EU", "A", 1)]
    assert japanese.status == OrderStatus.BACKORDERED
    assert reserved_at(japanese) == []


@pytest.mark.django_db
def test_split_only_when_no_single_location_can_ship(sites, stock, place_order):
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    stock(a, 3, at=sites["near"])
    stock(b, 3, at=sites["far"])
    stock(a, 1, at=sites["far"])

    order = place_order([(a, 4), (b, 2)])

    assert order.status == OrderStatus.ALLOCATED
    assert reserved_at(order) == [("FAR", "A", 1), ("FAR", "B", 2), ("NEAR", "A", 3)]


def test_split_prefers_the_location_covering_most_units():
    demands = [Demand(1, 10, 3), Demand(2, 20, 3)]
    sources = [
        Source(101, 10, 1, 1, "SMALL", 1),
        Source(201, 10, 2, 9, "BIG", 3),
        Source(202, 20, 2, 9, "BIG", 2),
        Source(302, 20, 3, 5, "REST", 5),
    ]
    plan = plan_allocation(demands, sources)
    assert plan.complete
    assert plan.picks == [(1, 201, 3), (2, 202, 2), (2, 302, 1)]


@pytest.mark.django_db
def test_short_stock_reserves_what_is_there_and_backorders(sites, stock, place_order):
    a = ProductFactory(sku="A")
    stock(a, 2, at=sites["near"])

    order = place_order([(a, 5)])

    assert order.status == OrderStatus.BACKORDERED
    assert reserved_at(order) == [("NEAR", "A", 2)]
    assert OrderEvent.objects.filter(order=order, kind="backordered").get().message == (
        "Waiting for stock: 3 × A."
    )


@pytest.mark.django_db
def test_country_no_location_ships_to_says_so_not_waiting_for_stock(
    sites, stock, place_order, location
):
    location.ships_to = ["US"]  # the default location, too, ships to the US only
    location.save()
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["near"])

    order = place_order([(a, 1)], country="JP")

    assert order.status == OrderStatus.BACKORDERED
    event = OrderEvent.objects.filter(order=order, kind="backordered").get()
    assert event.message == (
        "No location ships to Japan: add the country to a location's shipping "
        "countries or cancel the order."
    )
    assert event.data["no_location_ships_to"] == "JP"
    assert event.data["short"] == {"A": 1}


@pytest.mark.django_db
def test_country_a_location_ships_to_without_stock_is_waiting_for_stock(
    sites, stock, place_order
):
    a = ProductFactory(sku="A")
    stock(a, 5, at=sites["near"])

    order = place_order([(a, 1)], country="FR")  # EU ships to France, has no A

    event = OrderEvent.objects.filter(order=order, kind="backordered").get()
    assert event.message == "Waiting for stock: 1 × A."
    assert "no_location_ships_to" not in event.data


@pytest.mark.django_db
def test_a_location_shipping_everywhere_reaches_every_country(
    sites, stock, place_order
):
    a = ProductFactory(sku="A")
    LocationFactory(code="ANY", priority=9, ships_to="")

    order = place_order([(a, 1)], country="JP")

    event = OrderEvent.objects.filter(order=order, kind="backordered").get()
    assert event.message == "Waiting for stock: 1 × A."


@pytest.mark.django_db
def test_all_or_nothing_mode_reserves_nothing_when_short(
    sites, stock, place_order, settings
):
    settings.OMS_ALLOCATION_MODE = "all_or_nothing"
    a = ProductFactory(sku="A")
    stock(a, 2, at=sites["near"])

    order = place_order([(a, 5)])

    assert order.status == OrderStatus.BACKORDERED
    assert reserved_at(order) == []
    assert StockLevel.objects.get().allocated == 0


@pytest.mark.django_db
def test_receipt_releases_backorders_priority_first_then_oldest(
    sites, stock, place_order, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    a = ProductFactory(sku="A")
    now = timezone.now()
    oldest = place_order([(a, 1)], placed_at=now - timedelta(days=3))
    newer = place_order([(a, 1)], placed_at=now - timedelta(days=2))
    urgent = place_order([(a, 1)], placed_at=now - timedelta(days=1), priority=2)
    assert {o.status for o in (oldest, newer, urgent)} == {OrderStatus.BACKORDERED}

    with django_capture_on_commit_callbacks(execute=True):
        stock(a, 2, at=sites["near"])

    statuses = {
        o.pk: o.status
        for o in Order.objects.filter(pk__in=[oldest.pk, newer.pk, urgent.pk])
    }
    assert statuses == {
        urgent.pk: OrderStatus.ALLOCATED,
        oldest.pk: OrderStatus.ALLOCATED,
        newer.pk: OrderStatus.BACKORDERED,
    }
    assert OrderEvent.objects.filter(order=urgent, kind="allocated", user=None).exists()


@pytest.mark.django_db
def test_cancel_offers_released_stock_to_backorders(
    sites, stock, place_order, user, django_capture_on_commit_callbacks
):
    a = ProductFactory(sku="A")
    stock(a, 2, at=sites["near"])
    first = place_order([(a, 2)])
    waiting = place_order([(a, 2)])
    assert waiting.status == OrderStatus.BACKORDERED

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=first, actor=user, reason="changed mind")

    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.ALLOCATED
    assert StockLevel.objects.get().allocated == 2


@pytest.mark.django_db
def test_address_country_change_reroutes_the_reservation(
    sites, stock, place_order, user
):
    a = ProductFactory(sku="A")
    stock(a, 2, at=sites["near"])
    stock(a, 2, at=sites["eu"])
    order = place_order([(a, 1)])
    assert reserved_at(order) == [("NEAR", "A", 1)]

    order_update(order=order, actor=user, changes={"ship_country": "fr"})

    assert reserved_at(order) == [("EU", "A", 1)]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED
