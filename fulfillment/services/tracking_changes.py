"""Correcting the carrier or tracking number of a shipment on its way."""

from django.db import transaction

from core.users import Actor
from fulfillment import notifications
from fulfillment.exceptions import TrackingError
from fulfillment.handover import check_carrier
from fulfillment.locks import lock_shipment
from fulfillment.models import DISPATCHED_STATUSES, Carrier, Shipment, ShipmentStatus
from orders import events as order_events
from orders.locks import lock_order


@transaction.atomic
def shipment_tracking_change(
    *,
    shipment: Shipment,
    carrier: Carrier,
    tracking_number: str,
    actor: Actor,
    service: str | None = None,
) -> Shipment:
    """Correct the carrier or tracking number of a shipment on its way (a new
    label, a typing error) and give the sales channel the new tracking."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if (
        shipment.status not in DISPATCHED_STATUSES
        or shipment.status == ShipmentStatus.DELIVERED
    ):
        raise TrackingError(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}; "
            "its tracking can change once it has shipped, until it is delivered.",
            status=409,
        )
    tracking_number = tracking_number.strip()
    service = shipment.service if service is None else service.strip()
    check_carrier(
        shipment=shipment, carrier=carrier, service=service, tracking=tracking_number
    )
    before = (shipment.carrier_id, shipment.tracking_number, shipment.service)
    if before == (carrier.pk, tracking_number, service):
        return shipment
    was = (
        f"{shipment.carrier.name} {shipment.tracking_number}"
        if shipment.carrier
        else ""
    )
    shipment.carrier = carrier
    shipment.tracking_number = tracking_number
    shipment.service = service
    shipment.save(update_fields=["carrier", "tracking_number", "service", "updated_at"])
    order_events.order_event_tracking(
        order=order,
        actor=actor,
        message=f"Shipment {shipment.number}: tracking changed "
        + (f"from {was} " if was else "")
        + f"to {carrier.name} {tracking_number}.",
        data={"shipment": shipment.number, "tracking_number": tracking_number},
    )
    notifications.shipment_tracking_changed_notify(shipment=shipment)
    return shipment
