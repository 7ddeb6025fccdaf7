"""Reserved stock leaving the shelf with a shipment, and coming back when a
shipment is undone (a voided label)."""

from collections.abc import Mapping, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from inventory.exceptions import StockError
from inventory.models import Allocation, StockLevel
from inventory.services.ledger import Booking, Reason, stock_book


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
    leaving = sorted(
        (
            (allocation, quantity)
            for allocation, quantity in allocations
            if quantity > 0
        ),
        key=lambda pair: (pair[0].stock_level_id, pair[0].pk),
    )
    for allocation, quantity in leaving:
        if quantity > allocation.quantity:
            raise StockError(
                f"Cannot ship {quantity} of line {allocation.order_line_id}: only "
                f"{allocation.quantity} are allocated."
            )

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        return [
            Booking(
                levels[allocation.stock_level_id],
                -quantity,
                Reason.SHIPMENT,
                reference=reference,
                allocated=-quantity,
            )
            for allocation, quantity in leaving
        ]

    stock_book(
        level_pks=[allocation.stock_level_id for allocation, _ in leaving],
        bookings=bookings,
        actor=actor,
        history_reason=f"shipped {reference}",
    )
    for allocation, quantity in leaving:
        if quantity == allocation.quantity:
            allocation.delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(
                quantity=F("quantity") - quantity
            )


@transaction.atomic
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
    coming_back = sorted(
        (row for row in returns if row[2] > 0), key=lambda row: (row[1], row[0])
    )

    def bookings(levels: Mapping[int, StockLevel]) -> list[Booking]:
        return [
            Booking(
                levels[level_id],
                quantity,
                Reason.SHIPMENT,
                reference=reference,
                note=note,
                allocated=quantity,
            )
            for _, level_id, quantity in coming_back
        ]

    stock_book(
        level_pks=[level_id for _, level_id, _ in coming_back],
        bookings=bookings,
        actor=actor,
        history_reason=f"unshipped {reference}",
    )
    for line_id, level_id, quantity in coming_back:
        updated = Allocation.objects.filter(
            order_line_id=line_id, stock_level_id=level_id
        ).update(quantity=F("quantity") + quantity)
        if not updated:
            Allocation.objects.create(
                order_line_id=line_id, stock_level_id=level_id, quantity=quantity
            )
