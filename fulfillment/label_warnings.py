"""A label voided while the carrier has the parcel: the warning on the
shipment and its order's timeline.

A void and a carrier scan race: the scan may land while EasyPost is asked
for the refund (the void's record then finds the shipment moving) or after
the void is recorded (the scan then names the voided tracking number). In
both orders the parcel travels on a refunded label, and a person must call
the carrier. Both the void (`fulfillment.postage.voids`) and the tracking
service (`fulfillment.services.tracking`) warn through here, on rows the
caller has locked (the order, then the shipment), so neither imports the
other.
"""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext

from core.users import Actor
from fulfillment.models import Shipment
from orders import events as order_events
from orders.models import Order


def label_warning_text(
    *, label: str, scanned_at: datetime | None, status_text: str = ""
) -> str:
    """The warning, naming the label and when the carrier scanned the parcel."""
    if scanned_at is None:
        return gettext(
            "Label %(label)s voided but the shipment is already %(status)s — the "
            "parcel travels on a refunded label; contact the carrier."
        ) % {"label": label, "status": status_text}
    return gettext(
        "Label %(label)s voided but the carrier scanned the parcel at %(when)s "
        "UTC — the parcel travels on a refunded label; contact the carrier."
    ) % {"label": label, "when": f"{scanned_at.astimezone(UTC):%Y-%m-%d %H:%M}"}


def label_warning_record(
    *, order: Order, shipment: Shipment, warning: str, actor: Actor
) -> bool:
    """Put the warning on a locked shipment and its order's timeline; return
    whether it is new (a shipment keeps its first warning until cleared)."""
    if shipment.label_warning_at is not None:
        return False
    shipment.label_warning = warning[:500]
    shipment.label_warning_at = timezone.now()
    shipment.save(update_fields=["label_warning", "label_warning_at", "updated_at"])
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=gettext("Shipment %(number)s: %(warning)s")
        % {"number": shipment.number, "warning": warning},
        data={"shipment": shipment.number, "postage": "voided_label_scanned"},
    )
    return True
