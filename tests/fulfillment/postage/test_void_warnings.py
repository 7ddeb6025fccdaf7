"""A label voided while the carrier has the parcel warns on the shipment,
its order's timeline and the dashboard, whichever comes first: the scan or
the void's record."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.exceptions import FulfillmentError
from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent
from fulfillment.models.postage import ShipmentPostage
from fulfillment.postage import voids
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.voids import shipment_postage_void
from fulfillment.services.label_warnings import shipment_label_warning_clear
from fulfillment.services.tracking import (
    TrackingUpdate,
    tracking_event_record,
    tracking_updates_record,
)
from orders.models import OrderEvent

pytestmark = pytest.mark.django_db

ROW = "Labels voided while the carrier had the parcel"


def _bought(packed, user):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    return shipment


def _dashboard_row(client) -> tuple[str, str]:
    page = client.get(reverse("admin:index")).content.decode()
    block = page[page.index('id="dash-attention"') :]
    block = block[: block.index("</table>")]
    for row in re.findall(r"<tr[^>]*>.*?</tr>", block, re.S):
        if ROW in row:
            count = re.search(r">\s*(\d+)\s*<", row).group(1)
            link = re.search(r'href="([^"]+)"', row).group(1).replace("&amp;", "&")
            return count, link
    raise AssertionError(f"no {ROW!r} row on the dashboard")


def _warned(shipment):
    shipment.refresh_from_db()
    assert shipment.label_warning_at is not None
    assert "travels on a refunded label; contact the carrier" in (
        shipment.label_warning
    )
    assert OrderEvent.objects.filter(
        order=shipment.order_id, data__postage="voided_label_scanned"
    ).exists()


def test_a_scan_while_the_void_is_asked_warns_and_keeps_the_shipment(
    packed, easypost, user, monkeypatch, admin_client
):
    shipment = _bought(packed, user)
    scanned_at = timezone.now() - timedelta(minutes=3)
    real_call = voids._void_call

    def scan_during_call(plan):
        tracking_event_record(
            shipment=shipment, status="in_transit", occurred_at=scanned_at, actor=None
        )
        return real_call(plan)

    monkeypatch.setattr(voids, "_void_call", scan_during_call)
    postage = shipment_postage_void(shipment=shipment, actor=user)

    assert postage.status == ShipmentPostage.Status.VOIDED
    _warned(shipment)
    assert shipment.status == ShipmentStatus.IN_TRANSIT  # still travels
    assert f"{scanned_at:%Y-%m-%d %H:%M}" in shipment.label_warning
    assert "contact the carrier" in postage.error
    count, link = _dashboard_row(admin_client)
    assert count == "1"
    listed = admin_client.get(link).content.decode()
    assert shipment.number in listed


def test_a_scan_after_the_void_warns_on_the_shipment(packed, easypost, user):
    shipment = _bought(packed, user)
    label = shipment.tracking_number
    shipment_postage_void(shipment=shipment, actor=user)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKED
    assert (shipment.tracking_number, shipment.voided_tracking_number) == ("", label)
    assert shipment.label_warning_at is None

    report = tracking_updates_record(
        updates=[TrackingUpdate(label, "in_transit", timezone.now(), place="Reno, NV")],
        actor=None,
        source=TrackingEvent.Source.EASYPOST,
    )

    assert report.voided_label_scans == 1 and report.recorded == []
    _warned(shipment)
    assert shipment.status == ShipmentStatus.PACKED
    assert OrderEvent.objects.filter(
        order=shipment.order_id, data__voided_label=label
    ).exists()


def test_a_scan_before_the_void_refuses_it_and_the_label_stays_valid(
    packed, easypost, user
):
    shipment = _bought(packed, user)
    tracking_event_record(
        shipment=shipment,
        status="in_transit",
        occurred_at=timezone.now() - timedelta(minutes=5),
        actor=None,
    )
    with pytest.raises(FulfillmentError, match="handed over"):
        shipment_postage_void(shipment=shipment, actor=user)
    shipment.refresh_from_db()
    assert shipment.label_warning_at is None
    assert easypost.refunds == {}


def test_clearing_the_warning_takes_it_off_the_dashboard(
    packed, easypost, user, admin_client
):
    shipment = _bought(packed, user)
    label = shipment.tracking_number
    shipment_postage_void(shipment=shipment, actor=user)
    tracking_updates_record(
        updates=[TrackingUpdate(label, "in_transit", timezone.now())],
        actor=None,
        source=TrackingEvent.Source.EASYPOST,
    )
    assert _dashboard_row(admin_client)[0] == "1"
    shipment_label_warning_clear(shipment=shipment, actor=user)
    assert _dashboard_row(admin_client)[0] == "0"
    assert not Shipment.objects.get(pk=shipment.pk).label_warning
    with pytest.raises(FulfillmentError, match="no label warning"):
        shipment_label_warning_clear(shipment=shipment, actor=user)
