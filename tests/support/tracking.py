"""Carrier scans for tracking tests: a shipped parcel and one scan at a time."""

from datetime import UTC, datetime

import pytest
from django.core import mail

from fulfillment.models import Shipment
from fulfillment.services.tracking import tracking_event_record

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def parcel(shipped, product, django_capture_on_commit_callbacks):
    """One shipped order with one shipment (tracking number TR-<pk>)."""
    with django_capture_on_commit_callbacks(execute=True):
        order = shipped([(product, 2)])
    mail.outbox.clear()
    return Shipment.objects.get(order=order)


def record(shipment, status, at, **fields):
    """Record one scan of `shipment` as the carrier endpoint would."""
    return tracking_event_record(
        shipment=shipment, status=status, occurred_at=at, actor=None, **fields
    )
