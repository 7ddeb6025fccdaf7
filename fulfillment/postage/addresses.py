"""Address check: the ship-to verified through EasyPost before a label is
bought. A failed check refuses the purchase with EasyPost's message, puts
the order on hold (*address check*) — a picked or packed order too: its
parcels wait on the shelf — and drops the shipment's rates, whose EasyPost
shipment carries the old address: after the address is fixed and the order
released, the rates are fetched again."""

from typing import Any

from django.db import transaction
from django_fsm import can_proceed

from core.users import Actor
from fulfillment.models import Shipment
from fulfillment.models.postage import ShipmentPostage
from fulfillment.postage import client
from orders import events as order_events
from orders.locks import lock_order
from orders.models import HoldReason


class AddressCheckFailed(client.PostageError):
    """EasyPost could not verify the ship-to."""

    @transaction.atomic
    def hold(self, *, shipment_id: int, actor: Actor) -> None:
        """Hold the shipment's order (address check) with EasyPost's message."""
        order_id = Shipment.objects.values_list("order_id", flat=True).get(
            pk=shipment_id
        )
        order = lock_order(order_id)
        ShipmentPostage.objects.filter(
            shipment_id=shipment_id, status=ShipmentPostage.Status.RATED
        ).update(status=ShipmentPostage.Status.NEW, rates=[], rate_id="")
        for hold in (order.hold, order.hold_in_warehouse):
            if can_proceed(hold, HoldReason.ADDRESS_CHECK):
                hold(HoldReason.ADDRESS_CHECK)
                order.save(
                    update_fields=["status", "hold_reason", "held_from", "updated_at"]
                )
                order_events.order_event_held(order=order, actor=actor, note=str(self))
                return
        order_events.order_event_fulfillment(
            order=order,
            actor=actor,
            message=f"Address check failed, no label bought: {self}",
            data={"postage": "address_check_failed"},
        )


def order_address_check(*, api_key: str, address: dict[str, Any]) -> dict[str, Any]:
    """Verify an address through EasyPost; return the verified address or
    raise `AddressCheckFailed` with EasyPost's message. No database here."""
    params = {k: v for k, v in address.items() if v and k != "email"}
    try:
        verified = client.address_verify(api_key, params)
    except client.PostageUnavailable:
        raise
    except client.PostageError as error:
        raise AddressCheckFailed(
            f"Address check failed: {str(error).removeprefix('EasyPost: ')}"
        ) from error
    delivery = (verified.get("verifications") or {}).get("delivery") or {}
    if delivery and not delivery.get("success", True):
        messages = "; ".join(
            e.get("message", "")
            for e in delivery.get("errors") or ()
            if isinstance(e, dict)
        )
        raise AddressCheckFailed(
            f"Address check failed: {messages or 'EasyPost cannot deliver to it.'}"
        )
    return verified
