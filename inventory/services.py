"""Every write to stock: the ledger, the allocation engine and releases.

`on_hand` only ever changes here, and always together with a
`StockMovement`, so `on_hand == sum(delta)` holds per product and location.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from core.bulk import bulk_insert
from core.history import history_snapshot
from core.hooks import STOCK_CHANGED, hook_emit
from core.lookups import any_of, lookup_chunks
from inventory.allocation import (
    Demand,
    Plan,
    Source,
    plan_allocation,
    routing_record,
)
from inventory.exceptions import StockError
from inventory.locks import (
    lock_free_stock,
    lock_stock_levels,
    lock_stock_levels_by_pk,
    lock_stock_levels_holding,
)
from inventory.models import Allocation, Location, Product, StockLevel, StockMovement

Reason = StockMovement.Reason
ADJUSTMENT_REASONS = {Reason.DAMAGED, Reason.LOST, Reason.FOUND, Reason.CORRECTION}


def _stock_available_on_commit(product_ids: Iterable[int]) -> None:
    """After commit, tell the configured handlers that stock became free.

    The orders app registers its backorder re-allocation here
    (`OMS_STOCK_AVAILABLE_HANDLERS`), so inventory never imports orders.
    """
    product_ids = sorted(set(product_ids))
    if not product_ids:
        return
    _stock_changed(product_ids)
    for dotted_path in getattr(settings, "OMS_STOCK_AVAILABLE_HANDLERS", []):
        handler = import_string(dotted_path)
        transaction.on_commit(lambda h=handler: h(product_ids=product_ids))


def _stock_changed(product_ids: Iterable[int]) -> None:
    """Within the transaction, tell the later apps that the available
    quantity of these products changed (the `stock.changed` hook: the
    connections record stock pushes to the shops)."""
    product_ids = sorted(set(product_ids))
    if product_ids:
        hook_emit(STOCK_CHANGED, product_ids=product_ids)


def _record(
    *,
    level: StockLevel,
    delta: int,
    reason: str,
    actor: AbstractBaseUser | None,
    reference: str = "",
    note: str = "",
) -> StockMovement:
    return StockMovement.objects.create(
        product_id=level.product_id,
        location_id=level.location_id,
        delta=delta,
        reason=reason,
        reference=reference,
        user=actor,
        note=note,
    )


def _history(pks: Iterable[int], actor=None, reason: str = "") -> None:
    """Stock levels change through F() updates, which field history cannot
    see: record their new state explicitly."""
    history_snapshot(StockLevel, pks, user=actor, reason=reason)


def _lock_level(*, product: Product, location: Location) -> StockLevel:
    StockLevel.objects.get_or_create(product=product, location=location)
    return lock_stock_levels(
        StockLevel.objects.filter(product=product, location=location).select_related(
            "product", "location"
        )
    )[0]


def _positive(quantity: int, what: str) -> int:
    if not isinstance(quantity, int) or quantity <= 0:
        raise StockError(f"The {what} quantity must be a whole number above zero.")
    return quantity


@transaction.atomic
def stock_receive(
    *,
    product: Product,
    location: Location,
    quantity: int,
    actor: AbstractBaseUser | None,
    reference: str = "",
    note: str = "",
) -> StockLevel:
    """Book goods in at a location and offer them to waiting backorders."""
    _positive(quantity, "received")
    level = _lock_level(product=product, location=location)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
    _history([level.pk], actor, "receipt")
    _record(
        level=level,
        delta=quantity,
        reason=Reason.RECEIPT,
        actor=actor,
        reference=reference,
        note=note,
    )
    _stock_available_on_commit([product.pk])
    level.refresh_from_db(fields=["on_hand", "allocated"])
    return level


@transaction.atomic
def stock_return(
    *,
    product: Product,
    location: Location,
    quantity: int,
    resellable: bool,
    actor: AbstractBaseUser | None,
    reference: str,
    note: str = "",
) -> StockLevel:
    """Book returned goods in at a location.

    Resellable units go back on the shelf (reason return) and are offered to
    waiting backorders. Damaged units are booked in and written off at once
    (reason return_damaged, +n then -n), so the ledger shows what came back
    and `on_hand == sum(delta)` still holds.
    """
    _positive(quantity, "returned")
    level = _lock_level(product=product, location=location)
    if resellable:
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
        _history([level.pk], actor, f"return {reference}")
        _record(
            level=level,
            delta=quantity,
            reason=Reason.RETURN,
            actor=actor,
            reference=reference,
            note=note,
        )
        _stock_available_on_commit([product.pk])
    else:
        for delta, text in ((quantity, "received damaged"), (-quantity, "written off")):
            _record(
                level=level,
                delta=delta,
                reason=Reason.RETURN_DAMAGED,
                actor=actor,
                reference=reference,
                note=f"{note} ({text})" if note else text.capitalize(),
            )
    level.refresh_from_db(fields=["on_hand", "allocated"])
    return level


@transaction.atomic
def stock_adjust(
    *,
    stock_level: StockLevel,
    delta: int,
    reason: str,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> StockLevel:
    """Correct on-hand stock for damage, loss, a find or a booking error."""
    if reason not in ADJUSTMENT_REASONS:
        choices = ", ".join(sorted(ADJUSTMENT_REASONS))
        raise StockError(f"Adjustment reason {reason!r} is not one of: {choices}.")
    if not isinstance(delta, int) or delta == 0:
        raise StockError("An adjustment must change the quantity by a whole number.")
    level = lock_stock_levels_by_pk([stock_level.pk])[stock_level.pk]
    if delta < 0 and -delta > level.available:
        raise StockError(
            f"Cannot remove {-delta} of {level.product.sku} at {level.location.code}: "
            f"only {level.available} are free ({level.allocated} are allocated to "
            "orders). Release or ship those orders first."
        )
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + delta)
    _history([level.pk], actor, f"adjustment: {reason}")
    _record(level=level, delta=delta, reason=reason, actor=actor, note=note)
    if delta > 0:
        _stock_available_on_commit([level.product_id])
    elif delta < 0:
        _stock_changed([level.product_id])
    level.refresh_from_db(fields=["on_hand", "allocated"])
    return level


@transaction.atomic
def stock_count(
    *,
    stock_level: StockLevel,
    counted: int,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> StockLevel:
    """Set on-hand stock to a counted quantity; the ledger records the difference."""
    if not isinstance(counted, int) or counted < 0:
        raise StockError("The counted quantity must be a whole number, zero or more.")
    level = lock_stock_levels_by_pk([stock_level.pk])[stock_level.pk]
    if counted < level.allocated:
        raise StockError(
            f"Counted {counted} of {level.product.sku} at {level.location.code}, but "
            f"{level.allocated} are allocated to orders. Recount, or cancel or "
            "re-route those orders first."
        )
    delta = counted - level.on_hand
    StockLevel.objects.filter(pk=level.pk).update(on_hand=counted)
    _history([level.pk], actor, "cycle count")
    _record(
        level=level,
        delta=delta,
        reason=Reason.CYCLE_COUNT,
        actor=actor,
        note=note or f"Counted {counted} (was {level.on_hand}).",
    )
    if delta > 0:
        _stock_available_on_commit([level.product_id])
    elif delta < 0:
        _stock_changed([level.product_id])
    level.refresh_from_db(fields=["on_hand", "allocated"])
    return level


@transaction.atomic
def stock_transfer(
    *,
    product: Product,
    from_location: Location,
    to_location: Location,
    quantity: int,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> tuple[StockLevel, StockLevel]:
    """Move free stock of a product from one location to another."""
    _positive(quantity, "transferred")
    if from_location.pk == to_location.pk:
        raise StockError("Choose two different locations for a transfer.")
    for location in (from_location, to_location):
        StockLevel.objects.get_or_create(product=product, location=location)
    levels = lock_stock_levels(
        StockLevel.objects.filter(
            product=product, location__in=[from_location, to_location]
        ).select_related("product", "location")
    )
    source = next(lv for lv in levels if lv.location_id == from_location.pk)
    target = next(lv for lv in levels if lv.location_id == to_location.pk)
    if quantity > source.available:
        raise StockError(
            f"Cannot transfer {quantity} of {product.sku} from {from_location.code}: "
            f"only {source.available} are free there."
        )
    reference = f"{from_location.code}→{to_location.code}"
    StockLevel.objects.filter(pk=source.pk).update(on_hand=F("on_hand") - quantity)
    StockLevel.objects.filter(pk=target.pk).update(on_hand=F("on_hand") + quantity)
    _history([source.pk, target.pk], actor, f"transfer {reference}")
    _record(
        level=source,
        delta=-quantity,
        reason=Reason.TRANSFER_OUT,
        actor=actor,
        reference=reference,
        note=note,
    )
    _record(
        level=target,
        delta=quantity,
        reason=Reason.TRANSFER_IN,
        actor=actor,
        reference=reference,
        note=note,
    )
    _stock_available_on_commit([product.pk])
    source.refresh_from_db(fields=["on_hand", "allocated"])
    target.refresh_from_db(fields=["on_hand", "allocated"])
    return source, target


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
        _reserve(picks, new_lines=new_lines, levels=False)
        _check_now(Allocation, "order_line")
        levels = lock_free_stock(product_ids)
        if levels == read:
            # As planned: only the stock levels are left to write.
            return _reserved(results, picks, levels, new_lines=new_lines, rows=False)
        Allocation.objects.filter(
            any_of("order_line__id", sorted({line_id for line_id, _, _ in picks}))
        ).delete()
    results, picks = _plan(requests, levels, all_or_nothing=all_or_nothing)
    return _reserved(results, picks, levels, new_lines=new_lines)


def _check_now(model, field_name: str) -> None:
    """Check the foreign key `field_name` of the rows of `model` written so
    far in this transaction now rather than at the commit (PostgreSQL; its
    constraints are deferred)."""
    if connection.vendor != "postgresql":
        return
    field = model._meta.get_field(field_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(conname) FROM pg_constraint WHERE contype = 'f' "
            "AND condeferrable AND conrelid = %s::regclass "
            "AND confrelid = %s::regclass AND conkey = ARRAY[("
            "SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s)]::int2[]",
            [
                model._meta.db_table,
                field.related_model._meta.db_table,
                model._meta.db_table,
                field.column,
            ],
        )
        names = [name for (name,) in cursor.fetchall()]
        if names:
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} DEFERRED")


def _reserved(
    results: dict[int, AllocationResult],
    picks: list[tuple[int, int, int]],
    levels: list,
    *,
    new_lines: bool,
    rows: bool = True,
) -> dict[int, AllocationResult]:
    """Write the planned reservations on the locked `levels` (without the
    allocation rows with `rows=False`); return `results`."""
    product_of = {level.pk: level.product_id for level in levels}
    _reserve(picks, new_lines=new_lines, rows=rows)
    _stock_changed(product_of[level_pk] for _, level_pk, _ in picks)
    return results


def _plan(
    requests: Sequence[AllocationRequest], levels: list, *, all_or_nothing: bool
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


def _reserve(
    picks: Sequence[tuple[int, int, int]],
    *,
    new_lines: bool = False,
    rows: bool = True,
    levels: bool = True,
) -> None:
    """Write reservations in bulk: allocation rows, and `allocated` on each
    stock level, with the levels' field history. With `new_lines` no line
    holds a reservation yet: the rows are only inserted. `rows=False` /
    `levels=False` leave out the allocation rows / the stock levels (an
    import writes its rows before it locks the levels).

    On PostgreSQL one statement does it all for a batch of orders (the stock
    levels stay locked until the commit, so every statement here is time
    other orders wait); an import's many rows stream through COPY after it.
    """
    if not picks:
        return
    per_level: dict[int, int] = defaultdict(int)
    per_pair: dict[tuple[int, int], int] = defaultdict(int)
    for line_id, level_pk, quantity in picks:
        per_level[level_pk] += quantity
        per_pair[line_id, level_pk] += quantity
    if levels and connection.vendor == "postgresql":
        upsert = rows and len(per_pair) <= UPSERT_ROWS
        _reserve_postgresql(per_level, per_pair if upsert else {})
        if upsert:
            return
    elif levels:
        StockLevel.objects.filter(pk__in=per_level).update(
            allocated=F("allocated")
            + Case(
                *(
                    When(pk=pk, then=Value(quantity))
                    for pk, quantity in per_level.items()
                ),
                output_field=IntegerField(),
            )
        )
        _history(per_level, reason=RESERVED)
    if not rows:
        return
    line_ids = [] if new_lines else sorted({line_id for line_id, _ in per_pair})
    existing: dict[tuple[int, int], int] = {}
    for chunk in lookup_chunks(line_ids):
        existing.update(
            ((order_line_id, stock_level_id), pk)
            for pk, order_line_id, stock_level_id in Allocation.objects.filter(
                any_of("order_line__id", chunk), any_of("stock_level__id", per_level)
            ).values_list("pk", "order_line_id", "stock_level_id")
        )
    # Lines topped up (a backorder that got more stock where it already had
    # some): few, one UPDATE each.
    for pair, allocation_pk in sorted(existing.items(), key=lambda item: item[1]):
        if pair in per_pair:
            Allocation.objects.filter(pk=allocation_pk).update(
                quantity=F("quantity") + per_pair.pop(pair)
            )
    bulk_insert(
        Allocation,
        (
            {"order_line_id": line_id, "stock_level_id": level_pk, "quantity": quantity}
            for (line_id, level_pk), quantity in per_pair.items()
        ),
    )


# The field history reason of a reservation.
RESERVED = "reserved for orders"
# Up to this many allocation rows (one order, a batch) are written with one
# INSERT ... ON CONFLICT; more (an import) stream through COPY after one
# look-up for lines that already hold some.
UPSERT_ROWS = 2000


@functools.cache
def _reserve_statements() -> tuple[str, str]:
    """The SQL of `_reserve_postgresql`: the stock levels' UPDATE with their
    history INSERT, and the allocation rows' upsert (joined on when there
    are rows to write)."""
    levels = StockLevel._meta.db_table
    history = StockLevel.history.model._meta.db_table
    allocations = Allocation._meta.db_table
    columns = ", ".join(f'"{f.column}"' for f in StockLevel._meta.concrete_fields)
    stock = (
        f'WITH reserved AS (UPDATE "{levels}" AS level '
        "SET allocated = level.allocated + change.quantity "
        "FROM unnest(%s::bigint[], %s::integer[]) AS change(id, quantity) "
        "WHERE level.id = change.id RETURNING level.*)"
        f', recorded AS (INSERT INTO "{history}" ({columns}, "history_date", '
        '"history_change_reason", "history_type", "history_user_id") '
        f"SELECT {columns}, %s, %s, '~', NULL FROM reserved)"
    )
    upsert = (
        f'INSERT INTO "{allocations}" (order_line_id, stock_level_id, quantity, '
        "created_at) SELECT line, level, quantity, %s "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::integer[]) "
        "AS reservation(line, level, quantity) "
        "ON CONFLICT (order_line_id, stock_level_id) DO UPDATE "
        f'SET quantity = "{allocations}".quantity + EXCLUDED.quantity'
    )
    return f"{stock} SELECT count(*) FROM reserved", f"{stock} {upsert}"


def _reserve_postgresql(
    per_level: dict[int, int], per_pair: dict[tuple[int, int], int]
) -> None:
    """Add to `allocated` of the locked stock levels and record their history,
    and add the reservations `per_pair` (a new row per line and level, or more
    on the row the line already holds there), all in one statement."""
    levels = sorted(per_level.items())
    pairs = sorted(per_pair.items())
    now = timezone.now()
    parameters = [
        [pk for pk, _ in levels],
        [quantity for _, quantity in levels],
        now,
        RESERVED,
    ]
    stock_only, with_rows = _reserve_statements()
    with connection.cursor() as cursor:
        if not pairs:
            cursor.execute(stock_only, parameters)
            return
        cursor.execute(
            with_rows,
            [
                *parameters,
                now,
                [line for (line, _), _ in pairs],
                [level for (_, level), _ in pairs],
                [quantity for _, quantity in pairs],
            ],
        )


@transaction.atomic
def stock_release(*, order_line_ids: Iterable[int]) -> list[int]:
    """Give back every reservation of these order lines; return the product ids."""
    order_line_ids = sorted(set(order_line_ids))
    if not order_line_ids:
        return []
    if connection.vendor == "postgresql":
        return _release_postgresql(order_line_ids)
    allocations = list(
        Allocation.objects.filter(order_line_id__in=order_line_ids).order_by("pk")
    )
    if not allocations:
        return []
    levels = lock_stock_levels_by_pk(a.stock_level_id for a in allocations)
    per_level: dict[int, int] = defaultdict(int)
    for allocation in allocations:
        per_level[allocation.stock_level_id] += allocation.quantity
    for level_pk in sorted(per_level):
        StockLevel.objects.filter(pk=level_pk).update(
            allocated=F("allocated") - per_level[level_pk]
        )
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
    _history(per_level, reason=RELEASED)
    product_ids = sorted({levels[pk].product_id for pk in per_level})
    _stock_available_on_commit(product_ids)
    return product_ids


# The field history reason of a release.
RELEASED = "reservation released"


@functools.cache
def _release_statement() -> str:
    """The SQL of `_release_postgresql`."""
    levels = StockLevel._meta.db_table
    history = StockLevel.history.model._meta.db_table
    allocations = Allocation._meta.db_table
    columns = ", ".join(f'"{f.column}"' for f in StockLevel._meta.concrete_fields)
    return (
        f'WITH released AS (DELETE FROM "{allocations}" '
        "WHERE order_line_id = ANY(%s) RETURNING stock_level_id, quantity)"
        ", per_level AS (SELECT stock_level_id AS id, sum(quantity) AS quantity "
        "FROM released GROUP BY stock_level_id)"
        f', freed AS (UPDATE "{levels}" AS level '
        "SET allocated = level.allocated - per_level.quantity FROM per_level "
        "WHERE level.id = per_level.id RETURNING level.*) "
        f'INSERT INTO "{history}" ({columns}, "history_date", '
        '"history_change_reason", "history_type", "history_user_id") '
        f"SELECT {columns}, %s, %s, '~', NULL FROM freed"
    )


def _release_postgresql(order_line_ids: list[int]) -> list[int]:
    """`stock_release` in two statements: lock the stock levels the lines hold
    (pk order), then delete the allocations, give their quantities back and
    record the levels' history in one. The caller holds the orders' locks, so
    the lines' allocations cannot change between the two."""
    levels = lock_stock_levels_holding(order_line_ids)
    if not levels:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_release_statement(), [order_line_ids, timezone.now(), RELEASED])
    product_ids = sorted(set(levels.values()))
    _stock_available_on_commit(product_ids)
    return product_ids


@transaction.atomic
def stock_consume(
    *,
    allocations: Sequence[tuple[Allocation, int]],
    actor: AbstractBaseUser | None,
    reference: str,
) -> None:
    """Take shipped goods off the shelf: reduce on-hand and allocated together.

    `allocations` pairs each allocation with the quantity that leaves.
    """
    levels = lock_stock_levels_by_pk(a.stock_level_id for a, _ in allocations)
    for allocation, quantity in sorted(
        allocations, key=lambda pair: pair[0].stock_level_id
    ):
        if quantity <= 0:
            continue
        if quantity > allocation.quantity:
            raise StockError(
                f"Cannot ship {quantity} of line {allocation.order_line_id}: only "
                f"{allocation.quantity} are allocated."
            )
        level = levels[allocation.stock_level_id]
        StockLevel.objects.filter(pk=level.pk).update(
            on_hand=F("on_hand") - quantity, allocated=F("allocated") - quantity
        )
        _record(
            level=level,
            delta=-quantity,
            reason=Reason.SHIPMENT,
            actor=actor,
            reference=reference,
        )
        if quantity == allocation.quantity:
            allocation.delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(
                quantity=F("quantity") - quantity
            )
    _history(
        {allocation.stock_level_id for allocation, _ in allocations},
        actor,
        f"shipped {reference}",
    )


def stock_consume_reverse(
    *,
    returns: Sequence[tuple[int, int, int]],
    actor: AbstractBaseUser | None,
    reference: str,
    note: str = "",
) -> None:
    """Undo `stock_consume` for goods that never left (a voided label): each
    `(order line pk, stock level pk, quantity)` goes back on the shelf and
    reserved for its line again; the ledger gets the opposite movement."""
    levels = lock_stock_levels_by_pk(level_id for _, level_id, _ in returns)
    for line_id, level_id, quantity in sorted(returns, key=lambda row: row[1]):
        if quantity <= 0:
            continue
        level = levels[level_id]
        StockLevel.objects.filter(pk=level.pk).update(
            on_hand=F("on_hand") + quantity, allocated=F("allocated") + quantity
        )
        _record(
            level=level,
            delta=quantity,
            reason=Reason.SHIPMENT,
            actor=actor,
            reference=reference,
            note=note,
        )
        updated = Allocation.objects.filter(
            order_line_id=line_id, stock_level_id=level_id
        ).update(quantity=F("quantity") + quantity)
        if not updated:
            Allocation.objects.create(
                order_line_id=line_id, stock_level_id=level_id, quantity=quantity
            )
    _history({level_id for _, level_id, _ in returns}, actor, f"unshipped {reference}")
