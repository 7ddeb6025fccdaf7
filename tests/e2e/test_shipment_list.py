"""The shipment list at 1024 px: a busy day's shipments (long tracking
numbers, late estimates, every status's badge) fit without scrolling."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Carrier, Shipment, TrackingEvent
from fulfillment.services.packing import shipment_pack
from fulfillment.services.shipping import shipment_ship
from fulfillment.services.tracking import tracking_event_record
from oms.roles import WAREHOUSE
from tests.e2e.conftest import assert_fits, login
from tests.e2e.test_screens import floor, list_fits

__all__ = ["floor"]

# USPS's 30-digit IMpb with its routing prefix, the longest kind in use.
LONG_TRACKING = "420941039274890109355000283624"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["1024x768"], indirect=True)
def test_shipment_list_fits_at_1024(page, role_user, floor):
    carrier = Carrier.objects.create(
        code="usps",
        name="USPS",
        tracking_url_template="https://tools.usps.com/go/?t={tracking}",
        services="Priority Mail Express International",
    )
    for order in floor["to_pack"]:
        shipment = Shipment.objects.get(order=order)
        shipment_pack(shipment=shipment, actor=None)
        shipment_ship(
            shipment=shipment,
            actor=None,
            carrier=carrier,
            service="Priority Mail Express International",
            tracking_number=LONG_TRACKING[:-2] + str(order.pk % 100).zfill(2),
        )
        tracking_event_record(
            shipment=shipment,
            status=TrackingEvent.Status.OUT_FOR_DELIVERY,
            occurred_at=timezone.now(),
            actor=None,
            source=TrackingEvent.Source.ADMIN,
            description="Out for delivery",
            place="Austin, TX",
            estimated_delivery=timezone.localdate() - timedelta(days=3),
        )
    role_user("wes", WAREHOUSE, name="Wes Packer")
    login(page, "wes")

    page.goto(reverse("admin:fulfillment_shipment_changelist"))

    assert LONG_TRACKING[:-2] in page.inner_text("#result_list").replace("\n", "")
    assert_fits(page)
    list_fits(page)
