"""The allocation engine's writes: reserve stock for many orders at once,
routed in memory against the locked stock levels."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from core.lookups import any_of
from inventory import sql
from inventory.allocation import (
    Demand,
    Plan,
    Source,
    plan_allocation,
    routing_record,
)
from inventory.locks import FreeStock, lock_free_stock
from inventory.models import Allocation, Location
from inventory.services.ledger import stock_announce
from inventory.services.reservations import stock_reserve


@dataclass(frozen=True)
class AllocationResult:
    """What `stock_allocate_many` reserved, per location, and what is still short."""

    reserved: dict[str, list[tuple[str, int]]]
    short: dict[int, int]
    # Why it was routed so (`inventory.allocation.routing_record`).
    routing: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.short

    @property
    def reserved_any(self) -> bool:
        return bool(self.reserved)


@dataclass(frozen=True)
class AllocationRequest:
    """One order's outstanding lines and where it goes."""

    key: int
    demands: Sequence[Demand]
    country: str
    # Set by order rules: the location to ship from first, and those never to.
    pin: int | None = None
    exclude: frozenset[int] = frozenset()


@transaction.atomic(savepoint=False)
def stock_allocate_many(
    *,
    requests: Sequence[AllocationRequest],
    all_or_nothing: bool | None = None,
    new_lines: bool = False,
    before_lock: Callable[[dict[int, AllocationResult]], object] | None = None,
) -> dict[int, AllocationResult]:
    """Reserve stock for many orders at once, set-based, in the order given.

    `new_lines`: the demands' lines were written in this transaction (an
    import), so none holds a reservation yet and none is looked for.

    The candidate stock levels (those with stock free) are locked once, in
    pk order; every request is
    routed in memory by `plan_allocation` against what the earlier ones left
    free; then the reservations are written in bulk (one UPDATE for the stock
    levels, COPY for new allocation rows on PostgreSQL). The database check
    constraint refuses any over-allocation that slipped past the lock.

    `before_lock` (an import, whose orders nobody else sees yet): plan
    first against the levels read without a lock, hand that plan to
    `before_lock(results)` (which writes what depends on it but not on the
    lock: the orders with their statuses), then lock the levels; when they
    are exactly as read the plan stands, else every request is planned
    again against the locked levels (the same result as planning under the
    lock from the start). The stock locks are then held only while the
    reservations are written. Returns the results that were reserved.
    """
    if all_or_nothing is None:
        all_or_nothing = settings.OMS_ALLOCATION_MODE == "all_or_nothing"
    requests = [
        AllocationRequest(
            r.key,
            [d for d in r.demands if d.quantity > 0],
            r.country,
            r.pin,
            r.exclude,
        )
        for r in requests
    ]
    product_ids = {d.product_id for r in requests for d in r.demands}
    if not product_ids:
        results = {r.key: AllocationResult(reserved={}, short={}) for r in requests}
        if before_lock is not None:
            before_lock(results)
        return results
    if before_lock is None:
        levels = lock_free_stock(product_ids)
    else:
        read = lock_free_stock(product_ids, lock=False)
        results, picks = _plan(requests, read, all_or_nothing=all_or_nothing)
        before_lock(results)
        # The allocation rows too, and their lines' foreign keys checked:
        # their stock levels' keys are checked at the commit, under the lock
        # (checking takes a share lock on the level).
        stock_reserve(picks, new_lines=new_lines, levels=False)
        sql.foreign_key_check_now(Allocation, "order_line")
        levels = lock_free_stock(product_ids)
        if levels == read:
            # As planned: only the stock levels are left to write.
            return _reserved(results, picks, levels, new_lines=new_lines, rows=False)
        Allocation.objects.filter(
            any_of("order_line__id", sorted({line_id for line_id, _, _ in picks}))
        ).delete()
    results, picks = _plan(requests, levels, all_or_nothing=all_or_nothing)
    return _reserved(results, picks, levels, new_lines=new_lines)


def _reserved(
    results: dict[int, AllocationResult],
    picks: list[tuple[int, int, int]],
    levels: list[FreeStock],
    *,
    new_lines: bool,
    rows: bool = True,
) -> dict[int, AllocationResult]:
    """Write the planned reservations on the locked `levels` (without the
    allocation rows with `rows=False`); return `results`."""
    product_of = {level.pk: level.product_id for level in levels}
    stock_reserve(picks, new_lines=new_lines, rows=rows)
    stock_announce(changed=(product_of[level_pk] for _, level_pk, _ in picks))
    return results


def _plan(
    requests: Sequence[AllocationRequest],
    levels: list[FreeStock],
    *,
    all_or_nothing: bool,
) -> tuple[dict[int, AllocationResult], list[tuple[int, int, int]]]:
    """Route every request in memory, in the order given, against what the
    earlier ones left free at `levels`: the results and the (line id, level
    pk, quantity) picks to write."""
    by_pk = {level.pk: level for level in levels}
    free = {level.pk: level.available for level in levels}
    # Which locked levels may ship each product to each country, worked out
    # once per country rather than once per order, as (pk, product, location,
    # priority, code): a `Source` without its free quantity.
    shipping: dict[str, dict[int, list[tuple]]] = {}

    def candidates(country: str) -> dict[int, list[tuple]]:
        if country not in shipping:
            by_product: dict[int, list[tuple]] = defaultdict(list)
            for level in levels:
                if level.can_ship_to(country):
                    by_product[level.product_id].append(
                        (
                            level.pk,
                            level.product_id,
                            level.location_id,
                            level.priority,
                            level.code,
                        )
                    )
            shipping[country] = by_product
        return shipping[country]

    # For the routing reasons: each location's code and priority, and per
    # country the locations holding a product that do not ship there.
    place = {level.location_id: (level.code, level.priority) for level in levels}
    place.update(_places_named_by_rules(requests, known=place))
    not_shipping: dict[str, dict[int, set[int]]] = {}

    def blocked(country: str) -> dict[int, set[int]]:
        if country not in not_shipping:
            by_product: dict[int, set[int]] = defaultdict(set)
            for level in levels:
                if not level.can_ship_to(country):
                    by_product[level.product_id].add(level.location_id)
            not_shipping[country] = by_product
        return not_shipping[country]

    results: dict[int, AllocationResult] = {}
    picks: list[tuple[int, int, int]] = []
    for request in requests:
        eligible = candidates(request.country)
        away = blocked(request.country)
        routing = {
            "demands": request.demands,
            "place": place,
            "not_shipping": {
                location_id
                for demand in request.demands
                for location_id in away.get(demand.product_id, ())
            },
            "pin": request.pin,
            "exclude": request.exclude,
        }
        sources = [
            Source(*static, free[static[0]])
            for product_id in {d.product_id for d in request.demands}
            for static in eligible.get(product_id, ())
            if free[static[0]] > 0
        ]
        if request.pin is not None or request.exclude:
            # A rule's pin ranks its location first; excluded ones are skipped.
            sources = [
                source._replace(location_priority=-1)
                if source.location_id == request.pin
                else source
                for source in sources
                if source.location_id not in request.exclude
            ]
        plan: Plan = plan_allocation(request.demands, sources)
        if all_or_nothing and not plan.complete:
            short = {d.line_id: d.quantity for d in request.demands}
            results[request.key] = AllocationResult(
                reserved={},
                short=short,
                routing=routing_record(plan=plan, shipped_from=(), **routing),
            )
            continue
        reserved: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for line_id, level_pk, quantity in plan.picks:
            free[level_pk] -= quantity
            level = by_pk[level_pk]
            reserved[level.code].append((level.sku, quantity))
            picks.append((line_id, level_pk, quantity))
        results[request.key] = AllocationResult(
            reserved=dict(reserved),
            short=plan.short,
            routing=routing_record(plan=plan, shipped_from=list(reserved), **routing),
        )
    return results, picks


def _places_named_by_rules(
    requests: Sequence[AllocationRequest], *, known: dict[int, tuple[str, int]]
) -> dict[int, tuple[str, int]]:
    """(code, priority) of the locations rules pinned or excluded that hold
    none of the goods: one query, only when there are any."""
    named = {r.pin for r in requests if r.pin is not None}
    named.update(location_id for r in requests for location_id in r.exclude)
    missing = named - set(known)
    if not missing:
        return {}
    return {
        pk: (code, priority)
        for pk, code, priority in Location.objects.filter(pk__in=missing).values_list(
            "pk", "code", "priority"
        )
    }
