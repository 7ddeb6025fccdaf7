"""Every step on every status: legal ones work, illegal ones are refused with
a domain error that names the order and its status, and change nothing."""

import pytest

from inventory.models import StockLevel
from orders.exceptions import OrderError, OrderStateError
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.allocation import order_allocate
from orders.services.lifecycle import (
    order_cancel,
    order_deliver,
    order_hold,
    order_pack,
    order_release,
    order_shipment_record,
    order_start_picking,
)

STEPS = {
    "allocate": (order_allocate, {}),
    "start_picking": (order_start_picking, {}),
    "pack": (order_pack, {}),
    "deliver": (order_deliver, {}),
    "hold": (order_hold, {"reason": "payment"}),
    "release": (order_release, {}),
    "cancel": (order_cancel, {"reason": "test"}),
}
# The state machine of ARCHITECTURE.md: step -> {from: to}.
LEGAL = {
    "allocate": {
        OrderStatus.PENDING: OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED: OrderStatus.ALLOCATED,
    },
    "start_picking": {
        OrderStatus.ALLOCATED: OrderStatus.PICKING,
        OrderStatus.BACKORDERED: OrderStatus.PICKING,
    },
    "pack": {OrderStatus.PICKING: OrderStatus.PACKED},
    "ship": {
        OrderStatus.PICKING: OrderStatus.SHIPPED,
        OrderStatus.PACKED: OrderStatus.SHIPPED,
        OrderStatus.PARTIALLY_SHIPPED: OrderStatus.SHIPPED,
    },
    "deliver": {OrderStatus.SHIPPED: OrderStatus.DELIVERED},
    "hold": {
        OrderStatus.PENDING: OrderStatus.ON_HOLD,
        OrderStatus.ALLOCATED: OrderStatus.ON_HOLD,
        OrderStatus.BACKORDERED: OrderStatus.ON_HOLD,
    },
    "release": {OrderStatus.ON_HOLD: OrderStatus.ALLOCATED},
    "cancel": {
        OrderStatus.PENDING: OrderStatus.CANCELLED,
        OrderStatus.ALLOCATED: OrderStatus.CANCELLED,
        OrderStatus.BACKORDERED: OrderStatus.CANCELLED,
        OrderStatus.ON_HOLD: OrderStatus.CANCELLED,
    },
}
CASES = [(step, status) for step in STEPS for status in OrderStatus.values]


@pytest.fixture
def reserved_order(product, stock, place_order):
    """An allocated order with its stock reserved, to be put in any status."""
    stock(product, 10)
    return place_order([(product, 2)])


def force_status(order: Order, status: str) -> Order:
    """Put an order into a status directly: test set-up only, past the FSM."""
    extra = (
        {"hold_reason": "payment", "held_from": OrderStatus.ALLOCATED}
        if status == OrderStatus.ON_HOLD
        else {}
    )
    Order.objects.filter(pk=order.pk).update(status=status, **extra)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(("step", "status"), CASES)
def test_step_from_status_is_legal_or_refused(step, status, reserved_order, user):
    order = force_status(reserved_order, status)
    service, arguments = STEPS[step]
    events_before = OrderEvent.objects.filter(order=order).count()
    expected = LEGAL[step].get(status)

    if expected is None:
        with pytest.raises(OrderStateError) as refused:
            service(order=order, actor=user, **arguments)
        assert order.number in str(refused.value)
        assert order.get_status_display() in str(refused.value)
        assert Order.objects.get(pk=order.pk).status == status
        assert OrderEvent.objects.filter(order=order).count() == events_before
    else:
        result = service(order=order, actor=user, **arguments)
        assert result.status == expected
        assert Order.objects.get(pk=order.pk).status == expected
        newest = OrderEvent.objects.filter(order=order).first()
        assert newest.user == user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "held_from", [OrderStatus.PENDING, OrderStatus.ALLOCATED, OrderStatus.BACKORDERED]
)
def test_release_transition_returns_to_the_state_held_from(held_from, reserved_order):
    order = force_status(reserved_order, held_from)
    order.hold("fraud_review")
    assert (order.status, order.held_from) == (OrderStatus.ON_HOLD, held_from)

    order.release()

    assert order.status == held_from
    assert order.hold_reason == "" and order.held_from == ""


@pytest.mark.django_db
def test_hold_then_release_service_goes_back_and_records_both(reserved_order, user):
    held = order_hold(order=reserved_order, actor=user, reason="address_check")
    released = order_release(order=held, actor=user)

    assert released.status == OrderStatus.ALLOCATED
    kinds = list(
        OrderEvent.objects.filter(order=released).values_list("kind", flat=True)[:2]
    )
    assert kinds == ["released", "held"]


@pytest.mark.django_db
def test_release_of_a_pending_order_tries_to_allocate(
    product, stock, place_order, user
):
    order = place_order([(product, 1)], allocate=False)
    held = order_hold(order=order, actor=user, reason="payment")
    stock(product, 5)

    released = order_release(order=held, actor=user)

    assert released.status == OrderStatus.ALLOCATED
    assert StockLevel.objects.get().allocated == 1


@pytest.mark.django_db
def test_hold_keeps_reserved_stock(reserved_order, user):
    order_hold(order=reserved_order, actor=user, reason="payment")
    assert StockLevel.objects.get().allocated == 2


@pytest.mark.django_db
def test_hold_with_unknown_reason_is_refused(reserved_order, user):
    with pytest.raises(OrderError, match="not a hold reason"):
        order_hold(order=reserved_order, actor=user, reason="bored")
    assert Order.objects.get(pk=reserved_order.pk).status == OrderStatus.ALLOCATED


@pytest.mark.django_db
def test_whole_life_is_on_the_timeline_with_users(reserved_order, user):
    order = order_start_picking(order=reserved_order, actor=user)
    order = order_pack(order=order, actor=user)
    order = order_shipment_record(
        order=order,
        actor=user,
        shipped={line.pk: line.quantity for line in order.lines.all()},
        reference=order.number,
    )
    order = order_deliver(order=order, actor=user)

    assert order.status == OrderStatus.DELIVERED
    messages = list(
        OrderEvent.objects.filter(order=order)
        .order_by("created_at", "pk")
        .values_list("kind", "user__username")
    )
    assert [kind for kind, _ in messages] == [
        "placed",
        "allocated",
        "status",
        "status",
        "shipped",
        "status",
        "status",
    ]
    assert {username for _, username in messages} == {user.username}
