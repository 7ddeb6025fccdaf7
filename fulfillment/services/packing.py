"""Packing: picked shipments become parcels with a count and a weight, one
by one, per order, and in batches from the admin.

Each service reads top to bottom: lock (order, then shipment, then stock),
check, act, record. A service that already holds the rows passes the locked
rows on to the step it runs (`shipment_pack_locked`) instead of locking again.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from django.utils.translation import ngettext
from django_fsm import can_proceed

from core.exceptions import DomainError
from core.users import Actor
from fulfillment.exceptions import (
    BatchRefusedError,
    FulfillmentError,
    ShipmentStateError,
)
from fulfillment.locks import (
    lock_order_shipments,
    lock_shipment,
    lock_shipments_unchanged,
    refuse_changed,
)
from fulfillment.models import Shipment, ShipmentStatus
from fulfillment.postage.rates import shipment_postage_on_pack
from fulfillment.selectors import order_with_channel
from fulfillment.services.picking import pick_list_refresh
from orders import events as order_events
from orders.locks import lock_order
from orders.models import Order, OrderStatus
from orders.services import lifecycle as order_lifecycle


@dataclass
class BatchReport:
    """Which shipments of a batch were done (numbers), and each problem (also
    by shipment pk in `refused`)."""

    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)

    def refuse_all(self) -> None:
        """Raise when any shipment was refused, so the batch's transaction
        rolls back and nothing of it is done."""
        if self.errors:
            raise BatchRefusedError(self.errors, by_shipment=self.refused)


@dataclass(frozen=True)
class Parcels:
    """One shipment of a pack batch: its parcel count and weight (None: add
    up the product weights)."""

    shipment: Shipment
    packages: int = 1
    weight_g: int | None = None


def batch_run(
    orders: dict[int, Order],
    steps: Sequence[tuple[Shipment, Callable[..., Order]]],
) -> BatchReport:
    """Run each `(shipment, step)` as `step(order=...)` in its own savepoint,
    on locked rows: one that fails is reported and leaves the others alone."""
    report = BatchReport()
    for shipment, step in steps:
        try:
            with transaction.atomic():
                orders[shipment.order_id] = step(order=orders[shipment.order_id])
        except DomainError as error:
            report.errors.append(str(error))
            report.refused[shipment.pk] = str(error)
        else:
            report.done.append(shipment.number)
    return report


def _default_weight_g(shipment: Shipment) -> int:
    return sum(
        line.quantity * line.order_line.product.weight_g
        for line in shipment.lines.select_related("order_line__product")
    )


def shipment_pack_locked(
    *, order: Order, shipment: Shipment, actor: Actor, packages: int, weight_g
) -> Order:
    """Pack a locked shipment of a locked order; return the order as it is now."""
    if not can_proceed(shipment.pack):
        raise ShipmentStateError.refuse(
            shipment,
            "packed",
            "Only shipments on a pick list are packed."
            if shipment.status == ShipmentStatus.PENDING
            else "",
        )
    if not isinstance(packages, int) or packages < 1:
        raise FulfillmentError(
            f"Shipment {shipment.number}: the number of parcels must be 1 or more."
        )
    if weight_g is not None and (not isinstance(weight_g, int) or weight_g < 0):
        raise FulfillmentError(
            f"Shipment {shipment.number}: the weight must be zero or more grams."
        )
    if weight_g is None:
        weight_g = _default_weight_g(shipment)
    shipment.pack(packages, weight_g)
    shipment.save(update_fields=["status", "packages", "weight_g", "updated_at"])
    shipment_postage_on_pack(shipment=shipment)
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number} packed: {packages} "
        f"{ngettext('parcel', 'parcels', packages)}, "
        f"{shipment.weight_kg} kg.",
        data={"shipment": shipment.number, "packages": packages, "weight_g": weight_g},
    )
    if (
        order.status == OrderStatus.PICKING
        and not order.shipments.filter(
            status__in=[ShipmentStatus.PENDING, ShipmentStatus.PICKING]
        ).exists()
    ):
        order = order_lifecycle.order_pack(order=order, actor=actor)
    pick_list_refresh(pick_list_id=shipment.pick_list_id)
    return order


@transaction.atomic
def shipment_pack(
    *,
    shipment: Shipment,
    actor: Actor,
    packages: int = 1,
    weight_g: int | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Record a picked shipment as packed: parcel count and weight.

    Without a weight the products' weights are added up. The order becomes
    packed when none of its shipments is still being picked. With
    `expected_version`, refuse when the shipment changed since it was read.
    """
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    refuse_changed([shipment], {shipment.pk: expected_version})
    shipment_pack_locked(
        order=order,
        shipment=shipment,
        actor=actor,
        packages=packages,
        weight_g=weight_g,
    )
    return shipment


@transaction.atomic
def shipments_pack(
    *,
    parcels: Sequence[Parcels],
    actor: Actor,
    expected_versions: Mapping[int, int],
) -> BatchReport:
    """Pack several shipments, each with its own parcel count and weight, all
    or nothing: when one cannot be packed, `BatchRefusedError` names every
    refused shipment and none is packed.

    `expected_versions` (shipment pk → version) are the versions the page
    showed; when any of those shipments changed since, nothing is done.
    """
    orders, locked = lock_shipments_unchanged(
        [row.shipment.pk for row in parcels], expected_versions
    )
    report = batch_run(
        orders,
        [
            (
                locked[row.shipment.pk],
                partial(
                    shipment_pack_locked,
                    shipment=locked[row.shipment.pk],
                    actor=actor,
                    packages=row.packages,
                    weight_g=row.weight_g,
                ),
            )
            for row in parcels
        ],
    )
    report.refuse_all()
    return report


@transaction.atomic
def order_pack_shipments(
    *, order: Order, actor: Actor, packages: int = 1, weight_g: int | None = None
) -> Order:
    """Pack every shipment of the order that is being picked."""
    order, shipments = lock_order_shipments(order.pk, [ShipmentStatus.PICKING])
    if not shipments:
        raise FulfillmentError(
            f"Order {order.number} has no shipment being picked; put it on a pick "
            "list first."
        )
    if weight_g is not None and len(shipments) > 1:
        raise FulfillmentError(
            f"Order {order.number} has {len(shipments)} shipments being picked ("
            + ", ".join(s.number for s in shipments)
            + "): leave the weight empty to use the product weights, or pack them "
            "one by one under Fulfilment › Shipments."
        )
    for shipment in shipments:
        order = shipment_pack_locked(
            order=order,
            shipment=shipment,
            actor=actor,
            packages=packages,
            weight_g=weight_g,
        )
    return order_with_channel(order_id=order.pk)
