"""Carriers: the token a carrier shows to post tracking updates. (The check of
the carrier, service and tracking number a shipment leaves with is
`fulfillment.handover.check_carrier`.)"""

import secrets

from django.db import transaction

from core.users import Actor
from fulfillment.models import Carrier


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
