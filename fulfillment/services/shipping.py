"""Handing packed shipments to the carrier, one by one, per order, in
batches from the admin and from a carrier's manifest (CSV).

Each service reads top to bottom: lock (order, then shipment, then stock),
check, act, record. A service that already holds the rows passes the locked
rows on to the step it runs (`shipment_ship_locked`) instead of locking again.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from django.db import transaction
from django.utils.translation import ngettext

from core.users import Actor
from fulfillment.exceptions import (
    BatchRefusedError,
    FulfillmentError,
)
from fulfillment.handover import shipment_ship_locked
from fulfillment.locks import (
    lock_order_shipments,
    lock_shipment,
    lock_shipments_unchanged,
    refuse_changed,
)
from fulfillment.models import Carrier, Shipment, ShipmentStatus
from fulfillment.selectors import order_with_channel
from fulfillment.services.packing import BatchReport, batch_run
from orders.locks import lock_order
from orders.models import Order


@dataclass(frozen=True)
class ShipInstruction:
    """One row of a bulk ship: shipment number, carrier code, tracking number."""

    row: int
    shipment: str
    carrier: str
    tracking_number: str
    service: str = ""


@dataclass(frozen=True)
class ShipmentHandover:
    """One shipment of a batch handed to a carrier (a row of the ship form)."""

    shipment: Shipment
    carrier: Carrier | None
    service: str = ""
    tracking_number: str = ""


@dataclass
class ShipReport:
    shipped: list[Shipment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@transaction.atomic
def shipment_ship(
    *,
    shipment: Shipment,
    actor: Actor,
    carrier: Carrier | None = None,
    service: str = "",
    tracking_number: str = "",
    estimated_delivery: date | None = None,
    quantities: Mapping[int, int] | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Hand a packed shipment to its carrier.

    The reserved stock leaves the shelf (stock movements), the order lines
    count what shipped and the order becomes shipped or partially shipped.
    `quantities` (order line pk → units) ships less than packed: the rest
    stays reserved in a new pending shipment that goes on a later pick list.
    A shipment without a carrier (collected, own van) has no tracking number.
    With `expected_version`, refuse when the shipment changed since it was read.
    """
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    refuse_changed([shipment], {shipment.pk: expected_version})
    shipment_ship_locked(
        order=order,
        shipment=shipment,
        actor=actor,
        carrier=carrier,
        service=service,
        tracking_number=tracking_number,
        estimated_delivery=estimated_delivery,
        quantities=quantities,
    )
    return shipment


# ---- batches


def _ship_batch(
    *,
    handovers: Sequence[ShipmentHandover],
    actor: Actor,
    expected_versions: Mapping[int, int],
) -> BatchReport:
    orders, locked = lock_shipments_unchanged(
        [handover.shipment.pk for handover in handovers], expected_versions
    )
    return batch_run(
        orders,
        [
            (
                locked[handover.shipment.pk],
                partial(
                    shipment_ship_locked,
                    shipment=locked[handover.shipment.pk],
                    actor=actor,
                    carrier=handover.carrier,
                    service=handover.service,
                    tracking_number=handover.tracking_number,
                ),
            )
            for handover in handovers
        ],
    )


@transaction.atomic
def shipments_ship(
    *,
    handovers: Sequence[ShipmentHandover],
    actor: Actor,
    expected_versions: Mapping[int, int],
) -> BatchReport:
    """Hand several shipments to their carriers, all or nothing: when one
    cannot ship, `BatchRefusedError` names every refused shipment and none
    ships.

    `expected_versions` (shipment pk → version) are the versions the page
    showed; when any of those shipments changed since, nothing is done.
    """
    report = _ship_batch(
        handovers=handovers, actor=actor, expected_versions=expected_versions
    )
    report.refuse_all()
    return report


@transaction.atomic
def shipments_ship_many(
    *,
    instructions: Sequence[ShipInstruction],
    actor: Actor,
    refused_lines: Sequence[tuple[int, str]] = (),
) -> ShipReport:
    """Ship many packed shipments (a CSV from the carrier's manifest), all or
    nothing.

    Every line is checked, and every problem is reported at once by line in
    `BatchRefusedError`; then none ships. `refused_lines` are `(line, problem)`
    pairs the CSV reader already refused: they count as problems too, so one
    try reports everything that is wrong with the file.
    """
    problems: list[tuple[int, str]] = list(refused_lines)
    shipments = {
        s.number: s
        for s in Shipment.objects.filter(number__in=[i.shipment for i in instructions])
    }
    carriers = {
        c.code: c
        for c in Carrier.objects.filter(code__in=[i.carrier for i in instructions])
    }
    handovers: list[ShipmentHandover] = []
    rows: dict[int, int] = {}
    for instruction in instructions:
        where = f"Line {instruction.row}"
        shipment = shipments.get(instruction.shipment)
        carrier = carriers.get(instruction.carrier)
        if shipment is None:
            problems.append(
                (instruction.row, f"{where}: no shipment {instruction.shipment}.")
            )
            continue
        if carrier is None:
            problems.append(
                (
                    instruction.row,
                    f"{where}: no carrier with code {instruction.carrier!r} (see "
                    "Fulfilment › Carriers).",
                )
            )
            continue
        if shipment.pk in rows:
            problems.append(
                (
                    instruction.row,
                    f"{where}: {shipment.number} is listed twice (first on line "
                    f"{rows[shipment.pk]}).",
                )
            )
            continue
        rows[shipment.pk] = instruction.row
        handovers.append(
            ShipmentHandover(
                shipment=shipment,
                carrier=carrier,
                service=instruction.service,
                tracking_number=instruction.tracking_number,
            )
        )
    report = ShipReport()
    if handovers:
        batch = _ship_batch(handovers=handovers, actor=actor, expected_versions={})
        problems += [
            (rows[pk], f"Line {rows[pk]}: {error}")
            for pk, error in batch.refused.items()
        ]
        report.shipped = [
            h.shipment for h in handovers if h.shipment.pk not in batch.refused
        ]
    if problems:
        raise BatchRefusedError([error for _, error in sorted(problems)])
    return report


# ---- the order page button, routed through shipments


@transaction.atomic
def order_ship_shipments(
    *,
    order: Order,
    actor: Actor,
    carrier: Carrier | None = None,
    service: str = "",
    tracking_numbers: Sequence[str] = (),
) -> Order:
    """Ship every packed shipment of the order, one tracking number each."""
    order, shipments = lock_order_shipments(order.pk, [ShipmentStatus.PACKED])
    if not shipments:
        raise FulfillmentError(
            f"Order {order.number} has no packed shipment to ship; pack it first."
        )
    tracking_numbers = list(tracking_numbers)
    if carrier is not None and len(tracking_numbers) != len(shipments):
        raise FulfillmentError(
            ngettext(
                "Order %(order)s has %(count)d packed shipment (%(numbers)s): "
                "give %(count)d tracking number for it.",
                "Order %(order)s has %(count)d packed shipments (%(numbers)s): "
                "give %(count)d tracking numbers, one per shipment in this order.",
                len(shipments),
            )
            % {
                "order": order.number,
                "count": len(shipments),
                "numbers": ", ".join(s.number for s in shipments),
            }
        )
    if carrier is None:
        tracking_numbers = [""] * len(shipments)
    for shipment, tracking in zip(shipments, tracking_numbers, strict=True):
        order = shipment_ship_locked(
            order=order,
            shipment=shipment,
            actor=actor,
            carrier=carrier,
            service=service,
            tracking_number=tracking,
        )
    return order_with_channel(order_id=order.pk)
