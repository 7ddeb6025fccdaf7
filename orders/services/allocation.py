"""Reserving stock for orders: one order, many orders, imports, and
backordered orders when stock arrives.

`_allocate` is the one body, set-based: the caller holds the orders' row
locks; it reads every outstanding line in one query, reserves through
`stock_allocate_many` (stock levels locked once, every order planned in
memory, reservations written in bulk), then writes the timeline entries
(COPY), the status changes (one UPDATE per transition, each
checked against the order state machine) and their field history in bulk.

An import's new orders take `orders.services.allocation_import`: the same
engine, planned before the orders are written.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import ngettext

from core.history import history_context
from core.lookups import any_of, ids_in, lookup_chunks
from core.tasks import app
from core.users import Actor
from inventory.allocation import Demand
from inventory.selectors import countries_no_location_ships_to, stock_free_exists
from inventory.services import (
    AllocationRequest,
    AllocationResult,
    stock_allocate_many,
)
from orders import events
from orders.exceptions import OrderStateError
from orders.locks import lock_order, lock_order_rows, lock_orders
from orders.models import Order, OrderLine, OrderStatus, Rule
from orders.rules.services import rules_apply, rules_exist
from orders.services.shipby import ship_by_follow_allocation

# Orders whose lines may still wait for stock: backordered ones, and those
# already partly on their way (what was there was picked or shipped first).
IN_PROGRESS = (OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED)
STILL_WAITING = (OrderStatus.BACKORDERED, *IN_PROGRESS)
BACKORDER_BATCH = 10
# Orders per transaction in `orders_allocate_in_batches` (the path before
# set-based allocation, kept for small callers and the benchmark).
ALLOCATION_BATCH = 200
# Orders per transaction when allocating an import set-based: large enough
# that the stock levels are locked a handful of times for 25,000 orders, small
# enough that single orders allocating meanwhile wait well under a second.
SET_ALLOCATION_CHUNK = 5000
# Up to this many orders change status in one UPDATE with a CASE on the new
# status (a batch of single orders); more (an import) take one per transition.
CASE_UPDATE_LIMIT = 500


@dataclass(frozen=True)
class Waiting:
    """A locked order to allocate: what `_allocate` needs of it. `routing` is
    the rules' (pin, excluded locations) when the caller read the row already;
    None has `_allocate` read it."""

    pk: int
    status: str
    country: str
    routing: tuple[int | None, frozenset[int]] | None = None


# The transition each outcome takes, as the state machine defines it.
TRANSITIONS = {
    OrderStatus.ALLOCATED: Order.allocate,
    OrderStatus.BACKORDERED: Order.backorder,
    # No line ships (gift cards, digital and custom items only).
    OrderStatus.DELIVERED: Order.complete_without_shipment,
}
# Orders that are complete at once when none of their lines ships.
NOTHING_TO_SHIP_FROM = (
    OrderStatus.PENDING,
    OrderStatus.BACKORDERED,
    OrderStatus.ALLOCATED,
)


def _outstanding_lines(order_ids: list[int]) -> dict[int, list[tuple]]:
    """(line id, product id, sku, quantity still to reserve) per order, of the
    lines that ship (an order with none has an empty list): lines that do not
    ship are never reserved."""
    lines_of: dict[int, list[tuple]] = {pk: [] for pk in order_ids}
    for chunk in lookup_chunks(order_ids):
        rows = (
            OrderLine.objects.filter(any_of("order__id", chunk), requires_shipping=True)
            .annotate(reserved=Coalesce(Sum("allocations__quantity"), 0))
            .order_by("order_id", "pk")
            .values_list(
                "pk",
                "order_id",
                "product_id",
                "sku",
                "quantity",
                "quantity_shipped",
                "reserved",
            )
        )
        for pk, order_id, product_id, sku, quantity, shipped, reserved in rows:
            lines_of[order_id].append(
                (pk, product_id, sku, quantity - shipped - reserved)
            )
    return lines_of


def _allocate(
    *,
    waiting: Sequence[Waiting],
    actor: Actor,
    ship_by_moved: dict[int, date] | None = None,
) -> dict[int, str]:
    """Reserve what the locked orders' lines still need, in the order given,
    and move each order to allocated or backordered. Return each order's
    status afterwards; `ship_by_moved` (when given) collects the orders whose
    ship-by date moved to the working days of the locations reserved at.

    The caller holds the orders' row locks (`orders.locks`).
    """
    if not waiting:
        return {}
    lines_of = _outstanding_lines([order.pk for order in waiting])
    routing = {o.pk: o.routing for o in waiting if o.routing is not None}
    unread = [order.pk for order in waiting if order.routing is None]
    if unread:
        routing.update(_routing_of(unread))
    results = stock_allocate_many(
        requests=[
            allocation_request(
                order.pk,
                lines_of[order.pk],
                country=order.country,
                pin=routing.get(order.pk, (None,))[0],
                exclude=routing.get(order.pk, (None, frozenset()))[1],
            )
            for order in waiting
        ]
    )
    timeline: list[dict] = []
    moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    statuses: dict[int, str] = {}
    unreached = countries_no_location_ships_to(
        countries={o.country for o in waiting if not results[o.pk].complete}
    )
    for order in waiting:
        result = results[order.pk]
        statuses[order.pk] = order.status
        if not lines_of[order.pk] and order.status in NOTHING_TO_SHIP_FROM:
            moves[order.status, OrderStatus.DELIVERED].append(order.pk)
            timeline.append(
                events.order_event_nothing_to_ship_row(
                    order_id=order.pk, actor=actor, previous=order.status
                )
            )
            continue
        if result.reserved_any:
            timeline.append(allocated_event_row(order.pk, result, actor))
        if order.status in IN_PROGRESS:
            # Partly picked or shipped: the new reservation waits for the next
            # pick list; the status stays where the work is.
            continue
        if result.complete:
            if order.status != OrderStatus.ALLOCATED:
                moves[order.status, OrderStatus.ALLOCATED].append(order.pk)
            continue
        if order.status != OrderStatus.BACKORDERED or result.reserved_any:
            timeline.append(
                backordered_event_row(
                    order.pk,
                    lines_of[order.pk],
                    result,
                    actor,
                    country=unreached_country(order.country, unreached),
                )
            )
        if order.status != OrderStatus.BACKORDERED:
            moves[order.status, OrderStatus.BACKORDERED].append(order.pk)
    events.order_events_insert(timeline)
    with history_context(actor=actor, reason="allocation"):
        changed = order_statuses_move(moves)
        for (_source, target), pks in moves.items():
            statuses.update(dict.fromkeys(pks, target))
        moved = ship_by_follow_allocation(
            reserved_at={
                o.pk: (o.country, results[o.pk].reserved)
                for o in waiting
                if results[o.pk].reserved_any
            },
            reserved_before={o.pk for o in waiting if o.status != OrderStatus.PENDING},
        )
    if ship_by_moved is not None:
        ship_by_moved.update(moved)
    allocated = [pk for pk in changed if statuses[pk] == OrderStatus.ALLOCATED]
    return allocated_rules_apply(allocated, statuses, actor)


def allocation_request(
    key: int,
    lines: Sequence[tuple[int, int, str, int]],
    *,
    country: str,
    pin: int | None,
    exclude: frozenset[int],
) -> AllocationRequest:
    """What an order asks of the stock: its (line id, product id, sku,
    quantity) lines, where it ships to, and the rules' pin and exclusions."""
    return AllocationRequest(
        key=key,
        demands=[
            Demand(line_id=pk, product_id=product_id, quantity=quantity)
            for pk, product_id, _sku, quantity in lines
        ],
        country=country,
        pin=pin,
        exclude=exclude,
    )


def allocated_event_row(order_id: int, result: AllocationResult, actor: Actor) -> dict:
    return events.order_event_allocated_row(
        order_id=order_id,
        actor=actor,
        reserved=result.reserved,
        routing=result.routing,
    )


def unreached_country(country: str, unreached: set[str]) -> str:
    """The order's country code when no location ships there, else ""."""
    code = str(country or "").upper()
    return code if code in unreached else ""


def backordered_event_row(
    order_id: int,
    lines: Sequence[tuple[int, int, str, int]],
    result: AllocationResult,
    actor: Actor,
    *,
    country: str = "",
) -> dict:
    """The backordered entry of an order; `country` when no location ships
    to the order's country (see `countries_no_location_ships_to`)."""
    sku_of = {pk: sku for pk, _product, sku, _qty in lines}
    return events.order_event_backordered_row(
        order_id=order_id,
        actor=actor,
        short={sku_of[line_id]: qty for line_id, qty in result.short.items()},
        # Recorded once: on the allocated entry when some was reserved.
        routing=None if result.reserved_any else result.routing,
        no_location_ships_to=country,
    )


def allocated_rules_apply(
    allocated: list[int], statuses: dict[int, str], actor: Actor
) -> dict[int, str]:
    """Run the "when allocated" rules on the orders just allocated; return
    `statuses` with those the rules held on hold."""
    if allocated and rules_exist(trigger=Rule.Trigger.ALLOCATED):
        ruled = rules_apply(
            order_ids=allocated, trigger=Rule.Trigger.ALLOCATED, actor=actor
        )
        statuses.update(dict.fromkeys(ruled.held, OrderStatus.ON_HOLD))
    return statuses


def order_statuses_move(moves: dict[tuple[str, str], list[int]]) -> list[int]:
    """Move each group of locked orders from its source status to its target
    in one UPDATE for all groups (a CASE on the target); return the pks moved.

    Each move is checked against the order state machine first; the rows are
    locked in their source status, and the WHERE clause names it again.
    """
    for (source, target), pks in moves.items():
        if not TRANSITIONS[target]._django_fsm.has_transition(source):
            raise OrderStateError(
                ngettext(
                    "%(count)d order is %(source)s and cannot become %(target)s.",
                    "%(count)d orders are %(source)s and cannot become %(target)s.",
                    len(pks),
                )
                % {
                    "count": len(pks),
                    "source": OrderStatus(source).label,
                    "target": OrderStatus(target).label,
                }
            )
    changed = [pk for pks in moves.values() for pk in pks]
    if not changed:
        return changed
    targets: dict[str, list[int]] = defaultdict(list)
    for (_source, target), pks in moves.items():
        targets[target].extend(pks)
    now = timezone.now()
    if len(changed) > CASE_UPDATE_LIMIT:
        # Thousands of orders (an import): one UPDATE per transition, each
        # with its ids as one array parameter.
        for (source, target), pks in moves.items():
            Order.objects.filter(ids_in("pk", pks), status=source).update(
                status=target, updated_at=now, version=F("version") + 1
            )
        return changed
    where = Q()
    for (source, _target), pks in moves.items():
        where |= Q(pk__in=pks, status=source)
    Order.objects.filter(where).update(
        status=Case(
            *(When(pk__in=pks, then=Value(target)) for target, pks in targets.items())
        ),
        updated_at=now,
        version=F("version") + 1,
    )
    return changed


def _routing_of(order_ids: list[int]) -> dict[int, tuple[int | None, frozenset[int]]]:
    """Where rules pinned or excluded locations for these orders (most have
    neither: only those rows are read)."""
    routing: dict[int, tuple[int | None, frozenset[int]]] = {}
    for chunk in lookup_chunks(order_ids):
        rows = (
            Order.objects.filter(any_of("pk", chunk))
            .filter(Q(routing_pin__isnull=False) | ~Q(routing_exclude=[]))
            .values_list("pk", "routing_pin_id", "routing_exclude")
        )
        for pk, pin, exclude in rows:
            routing[pk] = (pin, frozenset(exclude or ()))
    return routing


def orders_allocate_locked(*, orders: Sequence[Order], actor: Actor) -> list[Order]:
    """Reserve what the locked orders' lines still need, oldest request first,
    and move each order to allocated or backordered.

    The caller holds the orders' row locks (`orders.locks`) and passes the
    locked rows, current (their rule pins and exclusions are taken from them,
    not read again); they come back with their new status.
    """
    ship_by_moved: dict[int, date] = {}
    statuses = _allocate(
        ship_by_moved=ship_by_moved,
        waiting=[
            Waiting(
                o.pk,
                o.status,
                o.ship_country,
                (o.routing_pin_id, frozenset(o.routing_exclude or ())),
            )
            for o in orders
        ],
        actor=actor,
    )
    now = timezone.now()
    for order in orders:
        order.ship_by = ship_by_moved.get(order.pk, order.ship_by)
        if statuses[order.pk] not in TRANSITIONS and statuses[order.pk] != order.status:
            # A "when allocated" rule held it: read the row as it is now.
            order.refresh_from_db()
        elif statuses[order.pk] != order.status:
            # Stored already; run the same transition on the instance to match.
            getattr(order, TRANSITIONS[statuses[order.pk]].__name__)()
            order.updated_at = now
            order.version += 1
    return list(orders)


@transaction.atomic
def order_allocate(*, order: Order, actor: Actor) -> Order:
    """Reserve stock for a pending or backordered order."""
    order = lock_order(order.pk)
    if order.status not in (OrderStatus.PENDING, OrderStatus.BACKORDERED):
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()}; only pending or "
            "backordered orders are allocated."
        )
    return orders_allocate_locked(orders=[order], actor=actor)[0]


@transaction.atomic
def orders_allocate(
    *,
    order_ids: Sequence[int],
    actor: Actor,
    statuses: Sequence[str] = (OrderStatus.PENDING, OrderStatus.BACKORDERED),
) -> list[Order]:
    """Reserve stock for many orders in one transaction (bulk imports, waves).

    Orders are served priority first, then oldest; orders in other statuses
    than `statuses` are left alone.
    """
    locked = lock_orders(list(order_ids))
    waiting = sorted(
        (o for o in locked if o.status in statuses),
        key=lambda o: (-o.priority, o.placed_at, o.pk),
    )
    return orders_allocate_locked(orders=waiting, actor=actor) if waiting else []


def orders_allocate_in_batches(*, order_ids: Sequence[int], actor: Actor) -> int:
    """Allocate many new orders in short transactions of `ALLOCATION_BATCH`,
    oldest first as given. Returns how many ended fully allocated."""
    allocated = 0
    for start in range(0, len(order_ids), ALLOCATION_BATCH):
        batch = orders_allocate(
            order_ids=order_ids[start : start + ALLOCATION_BATCH], actor=actor
        )
        allocated += sum(1 for order in batch if order.status == OrderStatus.ALLOCATED)
    return allocated


def orders_allocate_many(
    *,
    order_ids: Sequence[int],
    actor: Actor,
    statuses: Sequence[str] = (OrderStatus.PENDING, OrderStatus.BACKORDERED),
    chunk: int | None = None,
    with_locked: Callable[[list[int]], object] | None = None,
) -> dict[str, int]:
    """Allocate many orders set-based (an import of tens of thousands).

    All of them are served priority first, then oldest, in transactions of
    `chunk` orders (default `SET_ALLOCATION_CHUNK`): each locks its orders
    (pk order), then the stock levels involved once (pk order), plans every
    order in memory and writes in bulk.
    Orders in other statuses than `statuses` (cancelled or held meanwhile)
    are left alone. `with_locked(order_ids)` runs in each transaction with
    the ids of all its locked orders (an import queues its e-mails there:
    the rows are locked already, so their foreign-key checks cost nothing).
    Returns how many orders ended in each status.
    """
    chunk = chunk or SET_ALLOCATION_CHUNK
    ranked = []
    for some_ids in lookup_chunks(list(order_ids)):
        ranked.extend(
            Order.objects.filter(any_of("pk", some_ids)).values_list(
                "priority", "placed_at", "pk"
            )
        )
    ranked.sort(key=lambda row: (-row[0], row[1], row[2]))
    counts: dict[str, int] = defaultdict(int)
    for start in range(0, len(ranked), chunk):
        rank = {pk: n for n, (_p, _t, pk) in enumerate(ranked[start : start + chunk])}
        with transaction.atomic():
            locked = lock_order_rows(list(rank))
            waiting = sorted(
                (
                    Waiting(pk, status, country)
                    for pk, status, country in locked
                    if status in statuses
                ),
                key=lambda order: rank[order.pk],
            )
            for status in _allocate(waiting=waiting, actor=actor).values():
                counts[status] += 1
            if with_locked is not None:
                with_locked([pk for pk, _status, _country in locked])
    return dict(counts)


def backorders_reallocate(*, product_ids: Iterable[int]) -> int:
    """Offer newly free stock to backordered orders: priority first, then oldest.

    Orders are served in small batches, each in its own short transaction, and
    the walk stops as soon as none of the products has free stock left.
    Returns how many orders became fully allocated.
    """
    product_ids = list(product_ids)
    candidates = list(
        Order.objects.filter(
            status__in=STILL_WAITING, lines__product_id__in=product_ids
        )
        .order_by("-priority", "placed_at", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    completed = 0
    for start in range(0, len(candidates), BACKORDER_BATCH):
        if not stock_free_exists(product_ids=product_ids):
            break
        allocated = orders_allocate(
            order_ids=candidates[start : start + BACKORDER_BATCH],
            actor=None,
            statuses=STILL_WAITING,
        )
        completed += sum(
            1 for order in allocated if order.status == OrderStatus.ALLOCATED
        )
    return completed


@app.task()
def backorders_reallocate_task(product_ids: list[int]) -> int:
    """Re-allocate backordered orders that wait for these products."""
    return backorders_reallocate(product_ids=product_ids)


def stock_available(*, product_ids: list[int]) -> None:
    """Handle `stock.available` (core.hooks, registered by orders.apps): queue the
    re-allocation."""
    backorders_reallocate_task.defer(product_ids=list(product_ids))
