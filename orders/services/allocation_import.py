"""Reserving stock for an import's new orders before they are written
(`orders_allocate_unwritten`): the engine of `orders.services.allocation`,
planned first, so each order is written once with its final status, and the
stock levels locked late (see there)."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.history import history_context
from core.lookups import ids_in
from core.users import Actor
from inventory.selectors import countries_no_location_ships_to
from inventory.services import AllocationResult, stock_allocate_many
from orders import events
from orders.models import OrderEvent, OrderStatus
from orders.services.allocation import (
    allocated_event_row,
    allocated_rules_apply,
    allocation_request,
    backordered_event_row,
    order_statuses_move,
    unreached_country,
)
from orders.services.shipby import ship_by_follow_allocation


@dataclass(frozen=True)
class NewOrder:
    """An order being written in the caller's transaction (an import), not
    in the table yet: what allocating it needs. `lines` are (line id,
    product id, sku, quantity) of lines already written."""

    pk: int
    country: str
    lines: Sequence[tuple[int, int, str, int]]
    pin: int | None = None
    exclude: frozenset[int] = frozenset()


def orders_allocate_unwritten(
    *,
    orders: Sequence[NewOrder],
    actor: Actor,
    write_orders: Callable[[dict[int, str]], object],
) -> tuple[dict[int, str], dict[int, tuple[str, list[str]]]]:
    """Plan and reserve stock for new pending orders not written yet, in the
    order given (the caller ranks them: priority, then oldest), so that the
    caller writes each order once, with its status: allocated or backordered.

    The same engine as `orders_allocate_locked` (`stock_allocate_many`: every order routed
    in memory by `plan_allocation`, rule pins and exclusions respected,
    reservations written in bulk), with the stock levels locked late: the
    plan is made against the levels as read, `write_orders(statuses)` writes
    the orders with the planned statuses, and only then are the levels locked
    (pk order, to the commit). If they changed meanwhile, the orders are
    planned again under the lock and those whose status differs move (one
    UPDATE per transition, with their field history) and their allocated /
    backordered timeline entries (with the routing reasons), written with
    the orders before the lock, are written again from the plan reserved.
    Nobody else can see or lock these orders, so no order lock is taken.

    Returns each order's status and, for the orders that reserved anything,
    (country, codes of the locations reserved at); the caller hands the
    latter to `orders_allocate_unwritten_done`.
    """
    if not orders:
        write_orders({})
        return {}, {}
    planned: dict[int, AllocationResult] = {}

    def statuses_of(results: dict) -> dict[int, str]:
        return {
            order.pk: OrderStatus.ALLOCATED
            if results[order.pk].complete
            else OrderStatus.BACKORDERED
            for order in orders
        }

    def before_lock(results: dict) -> None:
        planned.update(results)
        write_orders(statuses_of(results))
        events.order_events_insert(_unwritten_timeline(orders, results, actor))

    results = stock_allocate_many(
        requests=[
            allocation_request(
                order.pk,
                order.lines,
                country=order.country,
                pin=order.pin,
                exclude=order.exclude,
            )
            for order in orders
        ],
        new_lines=True,
        before_lock=before_lock,
    )
    statuses = statuses_of(results)
    if any(results[order.pk] is not planned[order.pk] for order in orders):
        # Planned again under the lock: the statuses that differ move, and
        # the entries written from the first plan are written again.
        before = statuses_of(planned)
        moves: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pk, status in statuses.items():
            if before[pk] != status:
                moves[before[pk], status].append(pk)
        with history_context(actor=actor, reason="allocation"):
            order_statuses_move(moves)
        OrderEvent.objects.filter(
            ids_in("order__id", list(statuses)),
            kind__in=[OrderEvent.Kind.ALLOCATED, OrderEvent.Kind.BACKORDERED],
        ).delete()
        events.order_events_insert(_unwritten_timeline(orders, results, actor))
    reserved_at = {
        order.pk: (order.country, list(results[order.pk].reserved))
        for order in orders
        if results[order.pk].reserved_any
    }
    return statuses, reserved_at


def _unwritten_timeline(
    orders: Sequence[NewOrder], results: dict[int, AllocationResult], actor: Actor
) -> Iterable[dict]:
    """The allocated / backordered timeline entries of new orders."""
    unreached = countries_no_location_ships_to(
        countries={o.country for o in orders if not results[o.pk].complete}
    )
    for order in orders:
        result = results[order.pk]
        if result.reserved_any:
            yield allocated_event_row(order.pk, result, actor)
        if not result.complete:
            yield backordered_event_row(
                order.pk,
                order.lines,
                result,
                actor,
                country=unreached_country(order.country, unreached),
            )


def orders_allocate_unwritten_done(
    *,
    statuses: dict[int, str],
    reserved_at: dict[int, tuple[str, list[str]]],
    actor: Actor,
) -> dict[int, str]:
    """What allocating takes once the orders of `orders_allocate_unwritten`
    and their reservations are written: their ship-by dates follow the
    locations reserved at (with their field history), then the "when
    allocated" rules run. Returns the statuses, those the rules held
    updated."""
    with history_context(actor=actor, reason="allocation"):
        ship_by_follow_allocation(reserved_at=reserved_at)
    allocated = [
        pk for pk, status in statuses.items() if status == OrderStatus.ALLOCATED
    ]
    return allocated_rules_apply(allocated, dict(statuses), actor)
