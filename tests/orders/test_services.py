from decimal import Decimal

import pytest

from inventory.models import Allocation, StockLevel
from orders.addresses import Address
from orders.exceptions import OrderError, OrderStateError
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.lifecycle import order_cancel, order_pack, order_start_picking
from orders.services.order_edits import order_update
from orders.services.orders import LineInput, order_create


@pytest.mark.django_db
def test_order_create_numbers_totals_and_allocates(product, stock, place_order):
    stock(product, 5)
    first = place_order([(product, 2)])
    second = place_order([(product, 1)])

    assert first.number.startswith("SO-") and len(first.number) == 9
    assert int(second.number[3:]) == int(first.number[3:]) + 1
    assert first.subtotal == Decimal("20.00") and first.total == Decimal("20.00")
    assert first.status == OrderStatus.ALLOCATED
    assert StockLevel.objects.get().allocated == 3


@pytest.mark.django_db
def test_order_create_refuses_a_second_copy_of_a_channel_order(
    product, channel, customer, user
):
    arguments = dict(
        channel=channel,
        customer=customer,
        external_id="1001",
        address=Address(name="A", address1="B", city="C", country="US"),
        lines=[LineInput(product=product, quantity=1, unit_price=Decimal("1"))],
        actor=user,
    )
    order_create(**arguments)
    with pytest.raises(OrderError, match="1001 is already in the system"):
        order_create(**arguments)
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_cancel_releases_stock_and_records_it(product, stock, place_order, user):
    stock(product, 5)
    order = place_order([(product, 3)])

    order_cancel(order=order, actor=user, reason="customer request")

    assert StockLevel.objects.get().allocated == 0
    assert not Allocation.objects.exists()
    kinds = set(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert {"stock_released", "cancelled"} <= kinds


@pytest.mark.django_db
def test_address_change_is_recorded_with_old_and_new(product, stock, place_order, user):
    stock(product, 5)
    order = place_order([(product, 1)])

    order_update(
        order=order,
        actor=user,
        changes={"ship_city": "Dallas", "ship_postcode": "75201"},
    )

    order.refresh_from_db()
    assert order.ship_city == "Dallas"
    event = OrderEvent.objects.filter(order=order, kind="updated").get()
    assert "Austin → Dallas" in event.message
    assert event.user == user


@pytest.mark.django_db
def test_address_change_after_packing_is_refused(product, stock, place_order, user):
    stock(product, 5)
    order = place_order([(product, 1)])
    order = order_start_picking(order=order, actor=user)
    order = order_pack(order=order, actor=user)

    with pytest.raises(OrderStateError, match="Packed"):
        order_update(order=order, actor=user, changes={"ship_city": "Dallas"})
    order.refresh_from_db()
    assert order.ship_city == "Austin"


@pytest.mark.django_db
def test_only_delivery_fields_may_be_edited(product, stock, place_order, user):
    order = place_order([(product, 1)], allocate=False)
    with pytest.raises(OrderError, match="total"):
        order_update(order=order, actor=user, changes={"total": Decimal("0")})
