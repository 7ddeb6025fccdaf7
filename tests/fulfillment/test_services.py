"""Pick lists, packing, shipping and delivery through fulfillment.services."""

import pytest

from fulfillment.exceptions import (
    BatchRefusedError,
    FulfillmentError,
    ShipmentStateError,
)
from fulfillment.models import PickList, Shipment, ShipmentStatus
from fulfillment.services.packing import order_pack_shipments, shipment_pack
from fulfillment.services.picking import order_pick, pick_lists_create
from fulfillment.services.shipping import (
    ShipInstruction,
    order_ship_shipments,
    shipment_ship,
    shipments_ship_many,
)
from fulfillment.services.tracking import order_deliver_shipments, shipment_deliver
from inventory.models import Allocation, StockLevel, StockMovement
from orders.models import Order, OrderStatus
from tests.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


def pack_and_ship(shipment, user, carrier, tracking, **options):
    shipment_pack(shipment=shipment, actor=user)
    return shipment_ship(
        shipment=shipment,
        actor=user,
        carrier=carrier,
        tracking_number=tracking,
        **options,
    )


def test_wave_makes_one_pick_list_per_location_and_moves_orders_to_picking(
    picked, stock, product
):
    east = LocationFactory(code="EAST", priority=50)
    other = ProductFactory()
    stock(product, 10)
    stock(other, 10, at=east)

    wave = picked([[(product, 2)], [(product, 1), (other, 1)], [(other, 3)]])

    assert sorted(p.location.code for p in wave.pick_lists) == ["EAST", "RNO"]
    assert {o.status for o in Order.objects.all()} == {OrderStatus.PICKING}
    split = Order.objects.get(external_id="T-2")
    assert split.shipments.count() == 2
    assert set(Shipment.objects.values_list("status", flat=True)) == {"picking"}
    rno = PickList.objects.get(location__code="RNO")
    assert rno.shipments.count() == 2
    assert rno.status == PickList.Status.OPEN
    assert split.events.filter(message__contains="on pick list").count() == 2


def test_wave_skips_orders_that_cannot_be_picked(
    picked, place_order, stock, product, user
):
    stock(product, 1)
    wave = picked([[(product, 1)]])
    waiting = place_order([(product, 5)])  # nothing left: backordered
    assert len(wave.pick_lists) == 1

    # Backordered with nothing reserved: there is nothing to pick yet.
    with pytest.raises(FulfillmentError, match=f"{waiting.number} has nothing left"):
        pick_lists_create(order_ids=[waiting.pk], actor=user)


def test_packing_every_shipment_packs_the_order_and_closes_the_pick_list(
    picked, stock, product, user
):
    stock(product, 10)
    wave = picked([[(product, 2)]])
    shipment = Shipment.objects.get()

    shipment_pack(shipment=shipment, actor=user, packages=2)

    shipment.refresh_from_db()
    assert (shipment.status, shipment.packages, shipment.weight_g) == ("packed", 2, 500)
    assert Order.objects.get().status == OrderStatus.PACKED
    assert PickList.objects.get(pk=wave.pick_lists[0].pk).status == "done"


def test_shipping_consumes_reserved_stock_and_ships_the_order(
    picked, stock, product, user, carrier
):
    level = stock(product, 10)
    picked([[(product, 3)]])
    shipment = Shipment.objects.get()

    pack_and_ship(shipment, user, carrier, "1Z0001", service="Express")

    level.refresh_from_db()
    assert (level.on_hand, level.allocated) == (7, 0)
    movement = StockMovement.objects.get(reason="shipment")
    assert (movement.delta, movement.reference) == (-3, shipment.number)
    order = Order.objects.get()
    assert order.status == OrderStatus.SHIPPED
    assert order.lines.get().quantity_shipped == 3
    shipment.refresh_from_db()
    assert shipment.tracking_url == "https://track.example/1Z0001"
    assert shipment.shipped_at is not None
    assert not Allocation.objects.exists()


def test_order_from_two_locations_is_partially_shipped_until_both_leave(
    picked, stock, product, user, carrier
):
    east = LocationFactory(code="EAST", priority=50)
    stock(product, 1)
    stock(product, 1, at=east)
    picked([[(product, 2)]])
    first, second = Shipment.objects.order_by("number")

    pack_and_ship(first, user, carrier, "T-1")
    assert Order.objects.get().status == OrderStatus.PARTIALLY_SHIPPED

    pack_and_ship(second, user, carrier, "T-2")
    assert Order.objects.get().status == OrderStatus.SHIPPED


def test_short_shipment_keeps_the_rest_reserved_in_a_new_shipment(
    picked, stock, product, user, carrier
):
    level = stock(product, 10)
    picked([[(product, 3)]])
    shipment = Shipment.objects.get()
    line = shipment.lines.get()
    shipment_pack(shipment=shipment, actor=user)

    shipment_ship(
        shipment=shipment,
        actor=user,
        carrier=carrier,
        tracking_number="T-1",
        quantities={line.order_line_id: 1},
    )

    order = Order.objects.get()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.lines.get().quantity_shipped == 1
    level.refresh_from_db()
    assert (level.on_hand, level.allocated) == (9, 2)
    rest = Shipment.objects.get(status=ShipmentStatus.PENDING)
    assert rest.lines.get().quantity == 2
    assert shipment.lines.get().quantity == 1

    pick_lists_create(order_ids=[order.pk], actor=user)
    rest.refresh_from_db()
    pack_and_ship(rest, user, carrier, "T-2")
    assert Order.objects.get().status == OrderStatus.SHIPPED


def test_shipping_refuses_an_unpacked_shipment(picked, stock, product, user, carrier):
    stock(product, 10)
    picked([[(product, 1)]])
    shipment = Shipment.objects.get()
    with pytest.raises(ShipmentStateError, match="is Picking and cannot be shipped"):
        shipment_ship(
            shipment=shipment, actor=user, carrier=carrier, tracking_number="X"
        )
    assert StockLevel.objects.get().on_hand == 10


@pytest.mark.parametrize(
    ("service", "tracking", "message"),
    [
        ("Overnight", "T-9", "has no service 'Overnight'"),
        ("Ground", "", "give the Parcel Express tracking number"),
        ("Ground", "T-1", "already on shipment"),
    ],
)
def test_shipping_checks_carrier_service_and_tracking(
    picked, stock, product, user, carrier, service, tracking, message
):
    stock(product, 10)
    picked([[(product, 1)], [(product, 1)]])
    first, second = Shipment.objects.order_by("number")
    pack_and_ship(first, user, carrier, "T-1")
    shipment_pack(shipment=second, actor=user)

    with pytest.raises(FulfillmentError, match=message):
        shipment_ship(
            shipment=second,
            actor=user,
            carrier=carrier,
            service=service,
            tracking_number=tracking,
        )


def test_delivering_the_last_shipment_delivers_the_order(
    picked, stock, product, user, carrier
):
    east = LocationFactory(code="EAST", priority=50)
    stock(product, 1)
    stock(product, 1, at=east)
    picked([[(product, 2)]])
    first, second = Shipment.objects.order_by("number")
    pack_and_ship(first, user, carrier, "T-1")
    pack_and_ship(second, user, carrier, "T-2")

    shipment_deliver(shipment=first, actor=user)
    assert Order.objects.get().status == OrderStatus.SHIPPED
    shipment_deliver(shipment=second, actor=user)
    assert Order.objects.get().status == OrderStatus.DELIVERED


def test_ship_many_reports_every_bad_row_and_ships_nothing(
    picked, stock, product, user, carrier
):
    stock(product, 10)
    picked([[(product, 1)], [(product, 1)]])
    first, second = Shipment.objects.order_by("number")
    shipment_pack(shipment=first, actor=user)

    with pytest.raises(BatchRefusedError) as refused:
        shipments_ship_many(
            instructions=[
                ShipInstruction(2, first.number, "pex", "T-1"),
                ShipInstruction(3, second.number, "pex", "T-2"),
                ShipInstruction(4, "SH-999999", "pex", "T-3"),
                ShipInstruction(5, first.number, "nope", "T-4"),
            ],
            refused_lines=[(6, "Line 6: expected shipment,carrier,tracking.")],
            actor=user,
        )

    assert refused.value.errors == [
        f"Line 3: Shipment {second.number} is Picking and cannot be shipped. Pack it "
        "first.",
        "Line 4: no shipment SH-999999.",
        "Line 5: no carrier with code 'nope' (see Fulfilment › Carriers).",
        "Line 6: expected shipment,carrier,tracking.",
    ]
    first.refresh_from_db()
    assert (first.status, first.tracking_number) == (ShipmentStatus.PACKED, "")


def test_ship_many_ships_every_row_when_all_are_good(
    picked, stock, product, user, carrier
):
    stock(product, 10)
    picked([[(product, 1)], [(product, 1)]])
    first, second = Shipment.objects.order_by("number")
    for shipment in (first, second):
        shipment_pack(shipment=shipment, actor=user)

    report = shipments_ship_many(
        instructions=[
            ShipInstruction(2, first.number, "pex", "T-1"),
            ShipInstruction(3, second.number, "pex", "T-2", "Ground"),
        ],
        actor=user,
    )

    assert [s.number for s in report.shipped] == [first.number, second.number]
    assert set(Shipment.objects.values_list("status", flat=True)) == {"shipped"}


def test_order_buttons_walk_the_order_through_its_shipments(
    place_order, stock, product, user, carrier
):
    stock(product, 5)
    order = place_order([(product, 2)])

    order = order_pick(order=order, actor=user)
    assert order.status == OrderStatus.PICKING
    order = order_pack_shipments(order=order, actor=user, packages=1)
    assert order.status == OrderStatus.PACKED
    order = order_ship_shipments(
        order=order, actor=user, carrier=carrier, tracking_numbers=["T-77"]
    )
    assert order.status == OrderStatus.SHIPPED
    assert order.shipments.get().tracking_number == "T-77"
    order = order_deliver_shipments(order=order, actor=user)
    assert order.status == OrderStatus.DELIVERED
    assert order.shipments.get().status == ShipmentStatus.DELIVERED


def test_order_ship_needs_one_tracking_number_per_packed_shipment(
    place_order, stock, product, user, carrier
):
    east = LocationFactory(code="EAST", priority=50)
    stock(product, 1)
    stock(product, 1, at=east)
    order = place_order([(product, 2)])
    order_pick(order=order, actor=user)
    order_pack_shipments(order=order, actor=user)

    with pytest.raises(FulfillmentError, match="give 2 tracking number"):
        order_ship_shipments(
            order=order, actor=user, carrier=carrier, tracking_numbers=["T-1"]
        )


@pytest.mark.django_db
def test_backordered_order_ships_what_is_there_and_the_rest_when_it_arrives(
    product, stock, place_order, user, carrier, django_capture_on_commit_callbacks
):
    stock(product, 2)
    order = place_order([(product, 5)])
    assert order.status == OrderStatus.BACKORDERED

    pick_lists_create(order_ids=[order.pk], actor=user)
    first = Shipment.objects.get(order=order)
    shipment_pack(shipment=first, actor=user)
    shipment_ship(shipment=first, actor=user, carrier=carrier, tracking_number="1Z1")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.lines.get().quantity_shipped == 2

    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 10)
    assert Allocation.objects.get(order_line__order=order).quantity == 3
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_SHIPPED

    pick_lists_create(order_ids=[order.pk], actor=user)
    rest = Shipment.objects.filter(order=order).exclude(pk=first.pk).get()
    shipment_pack(shipment=rest, actor=user)
    shipment_ship(shipment=rest, actor=user, carrier=carrier, tracking_number="1Z2")
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert order.lines.get().quantity_shipped == 5
