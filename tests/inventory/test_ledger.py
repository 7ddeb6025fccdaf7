"""Stock operations keep the ledger true: on_hand == sum(delta), always."""

import pytest
from django.db.models import Sum

from core.hooks import STOCK_AVAILABLE, STOCK_CHANGED, hook_register
from inventory import services
from inventory.exceptions import StockError
from inventory.models import StockLevel, StockMovement
from tests.factories import LocationFactory


def assert_ledger_holds():
    for level in StockLevel.objects.all():
        total = StockMovement.objects.filter(
            product_id=level.product_id, location_id=level.location_id
        ).aggregate(total=Sum("delta"))["total"]
        assert level.on_hand == (total or 0), level
        assert 0 <= level.allocated <= level.on_hand


@pytest.mark.django_db
def test_receive_adds_stock_and_a_receipt(product, location, user):
    level = services.stock_receive(
        product=product, location=location, quantity=7, actor=user, reference="PO-1"
    )
    assert level.on_hand == 7
    movement = StockMovement.objects.get()
    assert (movement.delta, movement.reason, movement.reference, movement.user) == (
        7,
        "receipt",
        "PO-1",
        user,
    )
    assert_ledger_holds()


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -3])
def test_receive_refuses_non_positive_quantities(product, location, user, quantity):
    with pytest.raises(StockError, match="above zero"):
        services.stock_receive(
            product=product, location=location, quantity=quantity, actor=user
        )
    assert not StockMovement.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "delta", "expected"),
    [("damaged", -2, 8), ("lost", -1, 9), ("found", 3, 13), ("correction", -4, 6)],
)
def test_adjust_with_each_reason(product, stock, user, reason, delta, expected):
    level = stock(product, 10)
    level = services.stock_adjust(
        stock_level=level, delta=delta, reason=reason, actor=user
    )
    assert level.on_hand == expected
    assert StockMovement.objects.filter(reason=reason, delta=delta, user=user).exists()
    assert_ledger_holds()


@pytest.mark.django_db
def test_adjust_cannot_remove_allocated_stock(product, stock, place_order, user):
    level = stock(product, 5)
    place_order([(product, 4)])
    with pytest.raises(StockError, match="only 1 are free"):
        services.stock_adjust(stock_level=level, delta=-2, reason="damaged", actor=user)
    level.refresh_from_db()
    assert level.on_hand == 5
    assert_ledger_holds()


@pytest.mark.django_db
def test_adjust_refuses_unknown_reason(product, stock, user):
    level = stock(product, 5)
    with pytest.raises(StockError, match="not one of"):
        services.stock_adjust(stock_level=level, delta=-1, reason="receipt", actor=user)


@pytest.mark.django_db
@pytest.mark.parametrize(("counted", "delta"), [(7, -3), (12, 2), (10, 0)])
def test_cycle_count_records_the_difference(product, stock, user, counted, delta):
    level = stock(product, 10)
    level = services.stock_count(stock_level=level, counted=counted, actor=user)
    assert level.on_hand == counted
    assert StockMovement.objects.filter(reason="cycle_count").get().delta == delta
    assert_ledger_holds()


@pytest.mark.django_db
def test_cycle_count_below_allocated_is_refused(product, stock, place_order, user):
    level = stock(product, 10)
    place_order([(product, 6)])
    with pytest.raises(StockError, match="6 are allocated"):
        services.stock_count(stock_level=level, counted=5, actor=user)
    assert_ledger_holds()


@pytest.mark.django_db
def test_transfer_moves_free_stock_between_locations(product, stock, location, user):
    other = LocationFactory(code="BKN")
    stock(product, 10)
    source, target = services.stock_transfer(
        product=product,
        from_location=location,
        to_location=other,
        quantity=4,
        actor=user,
    )
    assert (source.on_hand, target.on_hand) == (6, 4)
    reasons = set(StockMovement.objects.values_list("reason", flat=True))
    assert reasons == {"receipt", "transfer_out", "transfer_in"}
    assert_ledger_holds()


@pytest.mark.django_db
def test_transfer_of_more_than_is_free_is_refused(
    product, stock, location, place_order, user
):
    other = LocationFactory(code="BKN")
    stock(product, 5)
    place_order([(product, 3)])
    with pytest.raises(StockError, match="only 2 are free"):
        services.stock_transfer(
            product=product,
            from_location=location,
            to_location=other,
            quantity=3,
            actor=user,
        )
    assert_ledger_holds()


@pytest.mark.django_db
def test_shipping_consumes_on_hand_and_allocation(product, stock, place_order, user):
    from inventory.models import Allocation
    from orders.services.lifecycle import order_start_picking

    stock(product, 5)
    order = place_order([(product, 2)])
    order = order_start_picking(order=order, actor=user)
    services.stock_consume(
        allocations=[
            (a, a.quantity) for a in Allocation.objects.filter(order_line__order=order)
        ],
        actor=user,
        reference=order.number,
    )

    level = StockLevel.objects.get()
    assert (level.on_hand, level.allocated) == (3, 0)
    assert StockMovement.objects.filter(
        reason="shipment", delta=-2, reference=order.number
    )
    assert_ledger_holds()


@pytest.mark.django_db
def test_return_of_resellable_goods_puts_them_back_on_the_shelf(
    product, location, user
):
    level = services.stock_return(
        product=product,
        location=location,
        quantity=2,
        resellable=True,
        actor=user,
        reference="RMA-1",
    )
    assert (level.on_hand, level.allocated) == (2, 0)
    movement = StockMovement.objects.get()
    assert (movement.delta, movement.reason, movement.reference) == (
        2,
        "return",
        "RMA-1",
    )
    assert_ledger_holds()


@pytest.mark.django_db
def test_return_of_damaged_goods_is_booked_in_and_written_off(product, location, user):
    level = services.stock_return(
        product=product,
        location=location,
        quantity=3,
        resellable=False,
        actor=user,
        reference="RMA-2",
    )
    assert level.on_hand == 0
    assert sorted(StockMovement.objects.values_list("delta", "reason", "note")) == [
        (-3, "return_damaged", "Written off"),
        (3, "return_damaged", "Received damaged"),
    ]
    assert_ledger_holds()


@pytest.mark.django_db
def test_a_voided_shipment_puts_stock_back_and_reserves_it_again(
    product, stock, place_order, user
):
    from inventory.models import Allocation

    level = stock(product, 5)
    order = place_order([(product, 2)])
    allocation = Allocation.objects.get()
    services.stock_consume(allocations=[(allocation, 2)], actor=user, reference="SH-1")
    assert not Allocation.objects.exists()

    services.stock_consume_reverse(
        returns=[(allocation.order_line_id, level.pk, 2)],
        actor=user,
        reference="SH-1",
        note="Label voided",
    )

    level.refresh_from_db()
    assert (level.on_hand, level.allocated) == (5, 2)
    assert list(Allocation.objects.values_list("order_line__order", "quantity")) == [
        (order.pk, 2)
    ]
    assert_ledger_holds()


@pytest.mark.django_db
def test_shipping_more_than_is_allocated_is_refused(product, stock, place_order, user):
    from inventory.models import Allocation

    stock(product, 5)
    place_order([(product, 2)])
    with pytest.raises(StockError, match="only 2 are allocated"):
        services.stock_consume(
            allocations=[(Allocation.objects.get(), 3)], actor=user, reference="SH-2"
        )
    assert StockLevel.objects.get().allocated == 2
    assert_ledger_holds()


# The stock hooks (core.hooks): one recorder, registered once, cleared per test.
HEARD: list[tuple[str, list[int]]] = []


def _heard_changed(*, product_ids):
    HEARD.append(("changed", product_ids))


def _heard_available(*, product_ids):
    HEARD.append(("available", product_ids))


@pytest.fixture
def heard():
    hook_register(STOCK_CHANGED, _heard_changed)
    hook_register(STOCK_AVAILABLE, _heard_available)
    HEARD.clear()
    yield HEARD
    HEARD.clear()


@pytest.mark.django_db
def test_received_stock_is_announced_changed_now_and_available_after_commit(
    product, location, user, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(
            product=product, location=location, quantity=3, actor=user
        )
        assert heard == [("changed", [product.pk])]

    assert heard == [("changed", [product.pk]), ("available", [product.pk])]


@pytest.mark.django_db
def test_stock_taken_away_is_announced_changed_only(
    product, stock, user, heard, django_capture_on_commit_callbacks
):
    level = stock(product, 5)
    heard.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(stock_level=level, delta=-2, reason="lost", actor=user)

    assert heard == [("changed", [product.pk])]


@pytest.mark.django_db
def test_shipping_and_a_count_without_difference_announce_nothing(
    product, stock, place_order, user, heard, django_capture_on_commit_callbacks
):
    from inventory.models import Allocation

    level = stock(product, 5)
    place_order([(product, 2)])
    heard.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.stock_consume(
            allocations=[(Allocation.objects.get(), 2)], actor=user, reference="SH-3"
        )
        services.stock_count(stock_level=level, counted=3, actor=user)

    # Shipping takes reserved units: what is free for sale does not change.
    assert heard == []
