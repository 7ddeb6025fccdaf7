"""Clearing a shipment's label warning once a person has dealt with the
carrier (the warning itself: `fulfillment.label_warnings`)."""

from django.db import transaction
from django.utils.translation import gettext

from core.users import Actor
from fulfillment.exceptions import FulfillmentError
from fulfillment.label_warnings import label_warning_record, label_warning_text
from fulfillment.locks import lock_shipment
from fulfillment.models import Shipment
from orders import events as order_events
from orders.locks import lock_order


@transaction.atomic
def shipment_label_warning_clear(*, shipment: Shipment, actor: Actor) -> Shipment:
    """A person has dealt with the carrier: clear the shipment's label
    warning (it leaves the dashboard) and say so on the timeline."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    if shipment.label_warning_at is None:
        raise FulfillmentError(
            gettext("Shipment %(number)s has no label warning to clear.")
            % {"number": shipment.number}
        )
    warning = shipment.label_warning
    shipment.label_warning = ""
    shipment.label_warning_at = None
    shipment.save(update_fields=["label_warning", "label_warning_at", "updated_at"])
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=gettext("Shipment %(number)s: label warning cleared (%(warning)s)")
        % {"number": shipment.number, "warning": warning},
        data={"shipment": shipment.number, "postage": "label_warning_cleared"},
    )
    return shipment


@transaction.atomic
def voided_label_scan_record(
    *, shipment: Shipment, label: str, occurred_at, description: str, actor: Actor
) -> bool:
    """A carrier scanned a label after it was voided (the shipment went back
    to packed, or left again on a new label): warn on the shipment and put
    the scan on the order's timeline. The scan moves nothing: the shipment
    no longer travels on that label. Return whether the warning is new."""
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(shipment.pk)
    warning = label_warning_text(label=label, scanned_at=occurred_at)
    new = label_warning_record(
        order=order, shipment=shipment, warning=warning, actor=actor
    )
    order_events.order_event_tracking(
        order=order,
        actor=actor,
        message=gettext(
            "Shipment %(number)s: the voided label %(label)s was scanned: %(scan)s"
        )
        % {"number": shipment.number, "label": label, "scan": description},
        data={"shipment": shipment.number, "voided_label": label},
    )
    return new
