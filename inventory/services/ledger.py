"""The stock ledger: every change to `on_hand`, each with its movement.

`on_hand` only ever changes through `stock_book`, and always together with a
`StockMovement`, so `on_hand == sum(delta)` holds per product and location.
Each public operation below states only what differs: which stock levels,
what it checks and which movements it books.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from core.history import history_context
from core.hooks import STOCK_AVAILABLE, STOCK_CHANGED, hook_emit
from inventory.exceptions import StockError
from inventory.locks import lock_stock_levels_by_pk
from inventory.models import Location, Product, StockLevel, StockMovement

Reason = StockMovement.Reason
ADJUSTMENT_REASONS = {Reason.DAMAGED, Reason.LOST, Reason.FOUND, Reason.CORRECTION}


@dataclass(frozen=True)
class Booking:
    """One movement of the ledger on a locked stock level.

    `delta` is added to `on_hand` and recorded as the movement; `allocated`
    is added to `allocated` alongside (shipping takes reserved units off the
    shelf)."""

    stock_level: StockLevel
    delta: int
    reason: str
    reference: str = ""
    note: str = ""
    allocated: int = 0


def stock_announce(*, changed: Iterable[int], freed: Iterable[int] = ()) -> None:
    """Tell the later apps which products' available stock changed (in this
    transaction: the shops hear of it) and which got more free (after the
    commit: backorders are allocated again), through `core.hooks`."""
    freed = sorted(set(freed))
    changed = sorted(set(changed) | set(freed))
    if changed:
        hook_emit(STOCK_CHANGED, product_ids=changed)
    if freed:
        hook_emit(STOCK_AVAILABLE, product_ids=freed)


def stock_book(
    *,
    level_pks: Iterable[int],
    bookings: Callable[[Mapping[int, StockLevel]], Sequence[Booking]],
    actor: AbstractBaseUser | None,
    history_reason: str,
) -> dict[int, StockLevel]:
    """Lock the stock levels `level_pks` (pk order), let `bookings(levels)`
    check them and say what moves (it raises `StockError` to refuse), then
    write: one F() update per level, its field history, the movements, and
    the stock hooks. Return the locked levels with their new quantities."""
    levels = lock_stock_levels_by_pk(level_pks)
    booked = bookings(levels)
    on_hand: dict[int, int] = defaultdict(int)
    allocated: dict[int, int] = defaultdict(int)
    for booking in booked:
        on_hand[booking.stock_level.pk] += booking.delta
        allocated[booking.stock_level.pk] += booking.allocated
    changed = sorted(pk for pk in on_hand if on_hand[pk] or allocated[pk])
    with history_context(actor=actor, reason=history_reason):
        for pk in changed:
            StockLevel.objects.filter(pk=pk).update(
                on_hand=F("on_hand") + on_hand[pk],
                allocated=F("allocated") + allocated[pk],
            )
            # Locked until the commit: the new quantities are exactly these.
            levels[pk].on_hand += on_hand[pk]
            levels[pk].allocated += allocated[pk]
    StockMovement.objects.bulk_create(
        StockMovement(
            product_id=booking.stock_level.product_id,
            location_id=booking.stock_level.location_id,
            delta=booking.delta,
            reason=booking.reason,
            reference=booking.reference,
            user=actor,
            note=booking.note,
        )
        for booking in booked
    )
    available = {pk: on_hand[pk] - allocated[pk] for pk in changed}
    stock_announce(
        changed=(levels[pk].product_id for pk, more in available.items() if more),
        freed=(levels[pk].product_id for pk, more in available.items() if more > 0),
    )
    return levels


def stock_levels_ensure(
    *, product: Product, locations: Iterable[Location]
) -> list[int]:
    """Return the pks of the product's stock levels at these locations, made
    if missing."""
    return [
        StockLevel.objects.get_or_create(product=product, location=location)[0].pk
        for location in locations
    ]


def quantity_positive(quantity: int, what: str) -> int:
    """Return `quantity` if it is a whole number above zero, else refuse it."""
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
    quantity_positive(quantity, "received")
    [pk] = stock_levels_ensure(product=product, locations=[location])
    levels = stock_book(
        level_pks=[pk],
        bookings=lambda levels: [
            Booking(
                levels[pk], quantity, Reason.RECEIPT, reference=reference, note=note
            )
        ],
        actor=actor,
        history_reason="receipt",
    )
    return levels[pk]


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
    quantity_positive(quantity, "returned")
    [pk] = stock_levels_ensure(product=product, locations=[location])

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        if resellable:
            return [
                Booking(
                    levels[pk], quantity, Reason.RETURN, reference=reference, note=note
                )
            ]
        return [
            Booking(
                levels[pk],
                delta,
                Reason.RETURN_DAMAGED,
                reference=reference,
                note=f"{note} ({text})" if note else text.capitalize(),
            )
            for delta, text in (
                (quantity, "received damaged"),
                (-quantity, "written off"),
            )
        ]

    levels = stock_book(
        level_pks=[pk],
        bookings=bookings,
        actor=actor,
        history_reason=f"return {reference}",
    )
    return levels[pk]


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

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        level = levels[stock_level.pk]
        if delta < 0 and -delta > level.available:
            raise StockError(
                f"Cannot remove {-delta} of {level.product.sku} at "
                f"{level.location.code}: only {level.available} are free "
                f"({level.allocated} are allocated to orders). Release or ship "
                "those orders first."
            )
        return [Booking(level, delta, reason, note=note)]

    levels = stock_book(
        level_pks=[stock_level.pk],
        bookings=bookings,
        actor=actor,
        history_reason=f"adjustment: {reason}",
    )
    return levels[stock_level.pk]


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

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        level = levels[stock_level.pk]
        if counted < level.allocated:
            raise StockError(
                f"Counted {counted} of {level.product.sku} at {level.location.code}, "
                f"but {level.allocated} are allocated to orders. Recount, or cancel "
                "or re-route those orders first."
            )
        return [
            Booking(
                level,
                counted - level.on_hand,
                Reason.CYCLE_COUNT,
                note=note or f"Counted {counted} (was {level.on_hand}).",
            )
        ]

    levels = stock_book(
        level_pks=[stock_level.pk],
        bookings=bookings,
        actor=actor,
        history_reason="cycle count",
    )
    return levels[stock_level.pk]


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
    quantity_positive(quantity, "transferred")
    if from_location.pk == to_location.pk:
        raise StockError("Choose two different locations for a transfer.")
    source_pk, target_pk = stock_levels_ensure(
        product=product, locations=[from_location, to_location]
    )
    reference = f"{from_location.code}→{to_location.code}"

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        source, target = levels[source_pk], levels[target_pk]
        if quantity > source.available:
            raise StockError(
                f"Cannot transfer {quantity} of {product.sku} from "
                f"{from_location.code}: only {source.available} are free there."
            )
        return [
            Booking(
                source, -quantity, Reason.TRANSFER_OUT, reference=reference, note=note
            ),
            Booking(
                target, quantity, Reason.TRANSFER_IN, reference=reference, note=note
            ),
        ]

    levels = stock_book(
        level_pks=[source_pk, target_pk],
        bookings=bookings,
        actor=actor,
        history_reason=f"transfer {reference}",
    )
    return levels[source_pk], levels[target_pk]
