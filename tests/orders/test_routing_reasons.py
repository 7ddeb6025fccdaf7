"""Routing reasons: every allocation records why it ships from where it does
(candidates and what each covers, priority, country restriction, rule pins
and exclusions), for one order and set-based, and the order page shows them."""

import pytest
from django.urls import reverse

from orders.models import OrderEvent
from orders.routing import routing_text
from orders.services.allocation import order_allocate, orders_allocate_many
from tests.factories import LocationFactory, ProductFactory


@pytest.fixture
def shelves(db, stock):
    """Two US locations and one that ships to Great Britain only."""
    near = LocationFactory(code="NEAR", priority=10)
    far = LocationFactory(code="FAR", priority=20)
    london = LocationFactory(code="LON", priority=1, ships_to=["GB"])
    shirt = ProductFactory(sku="SHIRT")
    cap = ProductFactory(sku="CAP")
    stock(shirt, 1, at=near)
    stock(shirt, 5, at=far)
    stock(cap, 5, at=far)
    stock(shirt, 9, at=london)
    stock(cap, 9, at=london)
    return {"near": near, "far": far, "london": london, "shirt": shirt, "cap": cap}


def routing_of(order) -> dict:
    event = OrderEvent.objects.filter(
        order=order, kind__in=[OrderEvent.Kind.ALLOCATED, OrderEvent.Kind.BACKORDERED]
    ).latest("pk")
    return event.data["routing"]


@pytest.mark.django_db
def test_single_allocation_records_candidates_priority_and_country(
    shelves, place_order
):
    order = place_order([(shelves["shirt"], 2), (shelves["cap"], 1)])
    routing = routing_of(order)
    assert routing["units"] == 3
    assert routing["from"] == ["FAR"]
    # FAR could ship all three; NEAR (better priority) only one shirt.
    assert routing["options"] == [["FAR", 20, 3], ["NEAR", 10, 1]]
    assert routing["no_ship"] == ["LON"]
    assert "pin" not in routing and "excluded" not in routing
    text = routing_text(routing)
    assert text.startswith("Ships from FAR: it has all 3 units (priority 20).")
    assert "NEAR 1/3 (priority 10)" in text
    assert "Not shipping to this country: LON." in text


@pytest.mark.django_db
def test_split_is_explained(shelves, place_order):
    order = place_order([(shelves["shirt"], 6)])
    routing = routing_of(order)
    assert sorted(routing["from"]) == ["FAR", "NEAR"]
    assert routing_text(routing).startswith("Split across")


@pytest.mark.django_db
def test_nothing_free_is_recorded_on_the_backorder(shelves, place_order, stock):
    scarf = ProductFactory(sku="SCARF")
    stock(scarf, 9, at=shelves["london"])
    order = place_order([(scarf, 2)], country="DE")
    routing = routing_of(order)
    assert routing["from"] == [] and routing["options"] == []
    assert routing["no_ship"] == ["LON"]
    assert routing_text(routing).startswith("Nothing reserved")


@pytest.mark.django_db
def test_rule_pin_and_exclusion_are_recorded(shelves, place_order, user):
    pinned = place_order([(shelves["shirt"], 1)], allocate=False)
    pinned.routing_pin = shelves["near"]
    pinned.save(update_fields=["routing_pin"])
    order_allocate(order=pinned, actor=user)
    routing = routing_of(pinned)
    assert routing["pin"] == "NEAR" and routing["from"] == ["NEAR"]

    excluded = place_order([(shelves["cap"], 1)], allocate=False)
    unstocked = LocationFactory(code="EMPTY")
    excluded.routing_exclude = [shelves["far"].pk, unstocked.pk]
    excluded.save(update_fields=["routing_exclude"])
    order_allocate(order=excluded, actor=user)
    routing = routing_of(excluded)
    assert routing["excluded"] == ["EMPTY", "FAR"]
    assert routing["from"] == [] and "Excluded by a rule: EMPTY, FAR." in (
        routing_text(routing)
    )


@pytest.mark.django_db
def test_bulk_allocation_records_reasons_for_every_order(shelves, place_order, user):
    orders = [
        place_order([(shelves["shirt"], 1)], allocate=False),
        place_order([(shelves["cap"], 2)], allocate=False),
        place_order([(shelves["shirt"], 1)], country="GB", allocate=False),
    ]
    counts = orders_allocate_many(order_ids=[o.pk for o in orders], actor=user)
    assert counts == {"allocated": 3}
    first, second, third = (routing_of(order) for order in orders)
    # Oldest first: the first takes NEAR's only shirt.
    assert first["from"] == ["NEAR"] and first["options"][0] == ["NEAR", 10, 1]
    assert second["from"] == ["FAR"] and second["units"] == 2
    # To Great Britain, LON (priority 1) is a candidate and wins.
    assert third["from"] == ["LON"] and "no_ship" not in third


@pytest.mark.django_db
def test_order_page_shows_the_routing_block(shelves, place_order, admin_client):
    order = place_order([(shelves["shirt"], 2)])
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="oms-routing"' in html
    assert "Ships from FAR: it has all 2 units (priority 20)." in html


def test_routing_text_of_a_partial_single_location():
    text = routing_text(
        {"units": 4, "options": [["A", 5, 3]], "from": ["A"], "pin": "A"}
    )
    assert text == (
        "Ships from A: the most of the 4 units any location has (3). "
        "Pinned by a rule: A."
    )
