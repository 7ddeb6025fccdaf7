"""Carriers: the check of a carrier, service and tracking number a shipment
leaves with, and the token a carrier shows to post tracking updates."""

import secrets

from django.db import transaction

from core.users import Actor
from fulfillment.exceptions import FulfillmentError
from fulfillment.models import Carrier, Shipment


def carrier_token_generate() -> str:
    """Return a new random token (URL-safe, 43 characters)."""
    return secrets.token_urlsafe(32)


@transaction.atomic
def carrier_token_rotate(*, carrier: Carrier, actor: Actor) -> str:
    """Give the carrier a new tracking webhook token and return it (to show once).

    The old token stops working at once: give the new one to the carrier.
    """
    token = carrier_token_generate()
    Carrier.objects.filter(pk=carrier.pk).update(webhook_token=token)
    carrier.webhook_token = token
    return token


def check_carrier(
    *, shipment: Shipment, carrier: Carrier | None, service: str, tracking: str
) -> None:
    """Refuse a carrier, service or tracking number a shipment cannot leave
    with: an inactive carrier, a service it does not offer, no tracking
    number, or one already on another shipment."""
    if carrier is None:
        if tracking or service:
            raise FulfillmentError(
                f"Shipment {shipment.number}: choose the carrier of tracking "
                f"number {tracking or '(none)'} and service {service or '(none)'}."
            )
        return
    if not carrier.active:
        raise FulfillmentError(
            f"Carrier {carrier.name} is inactive; choose another carrier for "
            f"shipment {shipment.number}."
        )
    if service and carrier.service_list and service not in carrier.service_list:
        raise FulfillmentError(
            f"{carrier.name} has no service {service!r}; it offers "
            + ", ".join(carrier.service_list)
            + "."
        )
    if not tracking:
        raise FulfillmentError(
            f"Shipment {shipment.number}: give the {carrier.name} tracking number."
        )
    used = (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking)
        .exclude(pk=shipment.pk)
        .values_list("number", flat=True)
        .first()
    )
    if used:
        raise FulfillmentError(
            f"{carrier.name} tracking number {tracking} is already on shipment "
            f"{used}; check the label and enter the right number for "
            f"{shipment.number}."
        )
