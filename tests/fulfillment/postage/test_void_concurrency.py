"""A label void racing a carrier scan, in real processes on PostgreSQL: the
scan lands while EasyPost is asked for the refund or after the void is
recorded, and every interleaving ends with the shipment warned (or, when
the scan came first, the void refused and the label valid)."""

import pytest
from django.db import connections

from fulfillment.models import Shipment, ShipmentStatus
from fulfillment.models.postage import ShipmentPostage
from fulfillment.postage.buying import shipment_postage_buy
from tests.support.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def _racer(barrier, role: str, shipment_id: int, label: str, hold: bool) -> str:
    from django.utils import timezone

    from core.exceptions import DomainError
    from fulfillment.postage import voids
    from fulfillment.services.tracking import TrackingUpdate, tracking_updates_record

    try:
        if role == "void":
            if hold:
                # The void is asked for first; the scan is let go while
                # EasyPost is being asked.
                real_call = voids._void_call

                def call_when_the_scan_goes(plan):
                    barrier.wait()
                    return real_call(plan)

                voids._void_call = call_when_the_scan_goes
            else:
                barrier.wait()
            try:
                postage = voids.shipment_postage_void(
                    shipment=Shipment.objects.get(pk=shipment_id), actor=None
                )
            except DomainError as error:
                return f"void refused: {error}"
            return f"void {postage.status}"
        barrier.wait()
        report = tracking_updates_record(
            updates=[TrackingUpdate(label, "in_transit", timezone.now())],
            actor=None,
            source="easypost",
        )
        return f"scan {len(report.recorded)} {report.voided_label_scans}"
    finally:
        connections.close_all()


def _bought_shipments(packed, user, count):
    shipments = packed(count)
    for shipment in shipments:
        postage = ShipmentPostage.objects.get(shipment=shipment)
        shipment_postage_buy(
            shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
        )
    return list(Shipment.objects.filter(pk__in=[s.pk for s in shipments]))


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_void_asked_then_scan_warns_in_every_interleaving(
    packed, easypost, user, delay
):
    easypost.delay = delay  # the scan lands during the call, or after it
    for shipment in _bought_shipments(packed, user, 3):
        answers = race(
            _racer,
            [
                ("void", shipment.pk, shipment.tracking_number, True),
                ("scan", shipment.pk, shipment.tracking_number, True),
            ],
            timeout=120,
        )
        assert not [a for a in answers if a.startswith("error")], answers
        assert "void voided" in answers, answers
        shipment.refresh_from_db()
        assert shipment.label_warning_at is not None, answers
        assert "travels on a refunded label" in shipment.label_warning
        # The scan landed before the void's record (the shipment travels
        # on) or after it (back to packed, the voided label scanned).
        assert shipment.status in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.PACKED)


def test_void_and_scan_let_go_together_end_warned_or_refused(packed, easypost, user):
    for shipment in _bought_shipments(packed, user, 3):
        answers = race(
            _racer,
            [
                ("void", shipment.pk, shipment.tracking_number, False),
                ("scan", shipment.pk, shipment.tracking_number, False),
            ],
            timeout=120,
        )
        assert not [a for a in answers if a.startswith("error")], answers
        shipment.refresh_from_db()
        postage = ShipmentPostage.objects.get(shipment=shipment)
        if any(a.startswith("void refused") for a in answers):
            # The scan came first: nothing was refunded, the label is valid.
            assert postage.status == ShipmentPostage.Status.BOUGHT
            assert shipment.status == ShipmentStatus.IN_TRANSIT
            assert shipment.label_warning_at is None
        else:
            assert postage.status == ShipmentPostage.Status.VOIDED
            assert shipment.label_warning_at is not None, answers
