"""Pick lists: reserved stock becomes shipments, shipments go on pick lists.

Each service reads top to bottom: lock (order, then shipment, then stock),
check, act, record. The order side is always changed through
`orders.services`; stock through `inventory.services`.
"""

import datetime
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from core.sequences import format_number, sequence_reserve
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError
from fulfillment.handover import shipment_numbers_reserve
from fulfillment.locks import lock_pick_lists
from fulfillment.models import PickList, Shipment, ShipmentLine, ShipmentStatus
from fulfillment.selectors import open_claims, order_with_channel
from inventory.models import Allocation
from orders import events as order_events
from orders.locks import lock_orders
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import lifecycle as order_lifecycle

PICK_LIST_PREFIX = "PL"
# Orders that may go on a pick list: fully reserved ones, and partially shipped
# ones whose remaining stock is reserved and waits in a pending shipment.
# A backordered order ships what is reserved now; the rest follows.
PICKABLE_ORDERS = (
    OrderStatus.ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.PARTIALLY_SHIPPED,
)
# The order orders are picked in, by hand or in scheduled waves: earliest
# ship-by first (none last), then priority, then oldest.
PICK_ORDER = (F("ship_by").asc(nulls_last=True), "-priority", "placed_at", "pk")
# Orders named one by one when some wait for the next pick list.
NAMED_WAITING = 10


def pick_order_key(order: Order) -> tuple:
    """`PICK_ORDER` for orders in memory."""
    return (
        order.ship_by is None,
        order.ship_by or datetime.date.max,
        -order.priority,
        order.placed_at,
        order.pk,
    )


@dataclass
class Wave:
    """What `pick_lists_create` made, and which orders it left alone and why."""

    pick_lists: list[PickList] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def shipments_plan(*, orders: Sequence[Order]) -> list[Shipment]:
    """Turn reserved stock that no open shipment covers yet into pending shipments.

    An order gets one shipment per location its stock is reserved at; stock
    that joins a location where a pending shipment already waits is added
    to that shipment.
    """
    order_ids = [order.pk for order in orders]
    claims = open_claims(order_ids=order_ids)
    needed: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for allocation in Allocation.objects.filter(
        order_line__order_id__in=order_ids
    ).select_related("stock_level", "order_line"):
        location_id = allocation.stock_level.location_id
        line_id = allocation.order_line_id
        free = allocation.quantity - claims.get((line_id, location_id), 0)
        if free > 0:
            needed[allocation.order_line.order_id, location_id][line_id] = free
    if not needed:
        return []
    pending = {
        (s.order_id, s.location_id): s
        for s in Shipment.objects.filter(
            order_id__in=order_ids, status=ShipmentStatus.PENDING
        )
    }
    # New shipments are numbered in pick order (the orders come so).
    rank = {order.pk: n for n, order in enumerate(orders)}
    new_keys = [
        key
        for key in sorted(needed, key=lambda key: (rank[key[0]], key[1]))
        if key not in pending
    ]
    numbers = shipment_numbers_reserve(count=len(new_keys)) if new_keys else []
    created = Shipment.objects.bulk_create(
        Shipment(number=number, order_id=order_id, location_id=location_id)
        for (order_id, location_id), number in zip(new_keys, numbers, strict=True)
    )
    pending.update({(s.order_id, s.location_id): s for s in created})
    existing_lines = {
        (line.shipment_id, line.order_line_id): line.pk
        for line in ShipmentLine.objects.filter(
            shipment__in=[pending[key] for key in needed if key not in new_keys]
        )
    }
    fresh = []
    for key, quantities in needed.items():
        shipment = pending[key]
        for line_id, quantity in quantities.items():
            line_pk = existing_lines.get((shipment.pk, line_id))
            if line_pk:
                ShipmentLine.objects.filter(pk=line_pk).update(
                    quantity=F("quantity") + quantity
                )
            else:
                fresh.append(
                    ShipmentLine(
                        shipment=shipment, order_line_id=line_id, quantity=quantity
                    )
                )
    ShipmentLine.objects.bulk_create(fresh)
    return created


@transaction.atomic
def pick_lists_create(*, order_ids: Sequence[int], actor: Actor) -> Wave:
    """Put orders on pick lists: one list per location, a wave of many orders.

    Each order's reserved stock becomes one shipment per location; the
    shipments and the orders move to picking. Orders are taken in pick order
    (`PICK_ORDER`: earliest ship-by, priority, oldest) and each location's
    list takes at most its wave size of them; orders that cannot be picked,
    or wait for the next list, are skipped and named in the result.
    """
    wave = Wave()
    orders = lock_orders(sorted(set(order_ids)))
    pickable = sorted(
        (order for order in orders if order.status in PICKABLE_ORDERS),
        key=pick_order_key,
    )
    wave.skipped = [
        f"{order.number} is {order.get_status_display()}"
        for order in orders
        if order.status not in PICKABLE_ORDERS
    ]
    if not pickable:
        raise FulfillmentError(
            "None of the selected orders can go on a pick list ("
            + "; ".join(wave.skipped)
            + "). Only orders with reserved stock are picked; allocate or release "
            "them first."
        )
    pickable, waiting = _within_list_sizes(pickable)
    shipments_plan(orders=pickable)
    rank = {order.pk: n for n, order in enumerate(pickable)}
    shipments = sorted(
        Shipment.objects.filter(
            order__in=pickable, status=ShipmentStatus.PENDING
        ).select_related("location"),
        key=lambda s: (s.location.code, rank[s.order_id], s.number),
    )
    by_location: dict[int, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        by_location[shipment.location_id].append(shipment)
    with_work = {shipment.order_id for shipment in shipments}
    wave.skipped += [
        f"{order.number} has nothing left to pick"
        for order in pickable
        if order.pk not in with_work
    ] + waiting
    if not by_location:
        raise FulfillmentError(
            "Nothing to pick: every reserved unit of the selected orders is "
            "already on a pick list (" + "; ".join(wave.skipped) + ")."
        )
    numbers = sequence_reserve(name="pick_list", count=len(by_location))
    orders_by_pk = {order.pk: order for order in pickable}
    timeline: list[OrderEvent] = []
    now = timezone.now()
    for (location_id, group), value in zip(by_location.items(), numbers, strict=True):
        pick_list = PickList.objects.create(
            number=format_number(PICK_LIST_PREFIX, value),
            location_id=location_id,
            created_by=acting_user(actor),
        )
        for shipment in group:
            shipment.start_picking(pick_list)
            shipment.updated_at = now
            timeline.append(
                order_events.order_event_fulfillment(
                    order=orders_by_pk[shipment.order_id],
                    actor=actor,
                    message=f"Shipment {shipment.number} from "
                    f"{shipment.location.code} is on pick list {pick_list.number}.",
                    data={"shipment": shipment.number, "pick_list": pick_list.number},
                    save=False,
                )
            )
        wave.pick_lists.append(pick_list)
    for shipment in shipments:
        shipment.version += 1
    Shipment.objects.bulk_update(
        shipments, ["status", "pick_list", "updated_at", "version"]
    )
    OrderEvent.objects.bulk_create(timeline)
    for order in pickable:
        if order.pk in with_work and order.status in (
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
        ):
            order = order_lifecycle.order_start_picking(order=order, actor=actor)
        wave.orders.append(order)
    return wave


def _within_list_sizes(orders: list[Order]) -> tuple[list[Order], list[str]]:
    """Keep, in the order given, the orders every location they are reserved
    at still has room for on its list (its wave size); say which wait."""
    if len(orders) < 2:
        return orders, []
    places: dict[int, set[int]] = defaultdict(set)
    size: dict[int, tuple[str, int]] = {}
    for order_id, location_id, code, wave_size in (
        Allocation.objects.filter(order_line__order_id__in=[o.pk for o in orders])
        .order_by()
        .values_list(
            "order_line__order_id",
            "stock_level__location_id",
            "stock_level__location__code",
            "stock_level__location__wave_size",
        )
        .distinct()
    ):
        places[order_id].add(location_id)
        size[location_id] = (code, wave_size)
    taken: list[Order] = []
    counted: Counter[int] = Counter()
    waiting: dict[int, list[str]] = defaultdict(list)
    for order in orders:
        full = sorted(
            place for place in places[order.pk] if counted[place] >= size[place][1]
        )
        if full:
            waiting[full[0]].append(order.number)
            continue
        counted.update(places[order.pk])
        taken.append(order)
    notes = []
    for place, numbers in waiting.items():
        code, wave_size = size[place]
        named = ", ".join(numbers[:NAMED_WAITING])
        more = len(numbers) - NAMED_WAITING
        notes.append(
            f"{named}{f' and {more} more' if more > 0 else ''} wait for the next "
            f"pick list ({code}'s takes at most {wave_size} orders, earliest "
            "ship-by first)"
        )
    return taken, notes


def pick_list_refresh(*, pick_list_id: int | None) -> None:
    """Close a pick list once none of its shipments waits to be picked."""
    if pick_list_id is None:
        return
    pick_list = lock_pick_lists([pick_list_id])[0]
    waiting = pick_list.shipments.filter(
        status__in=[ShipmentStatus.PENDING, ShipmentStatus.PICKING]
    ).exists()
    if not waiting and can_proceed(pick_list.finish):
        pick_list.finish()
        pick_list.save(update_fields=["status", "updated_at"])


def order_pick(*, order: Order, actor: Actor) -> Order:
    """Put one order on pick lists (one per location its stock is at)."""
    pick_lists_create(order_ids=[order.pk], actor=actor)
    return order_with_channel(order_id=order.pk)
