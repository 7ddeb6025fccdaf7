"""Fixtures for the postage tests: the local EasyPost, an EasyPost carrier
account, a location that buys through it, and packed shipments."""

import pytest

from fulfillment.models import Carrier, Shipment
from fulfillment.models.postage import CarrierAccount, LocationPostage
from fulfillment.services.packing import shipment_pack
from tests.support.easypost import FakeEasyPost

TEST_KEY = "EZTK_test_key_0123456789"


@pytest.fixture
def easypost(settings):
    """The local EasyPost the official client talks to."""
    fake = FakeEasyPost().start()
    settings.OMS_EASYPOST_API_BASE = fake.api_base
    settings.OMS_EASYPOST_TIMEOUT = 2
    yield fake
    fake.stop()


@pytest.fixture
def easypost_carrier(db):
    carrier = Carrier.objects.create(code="easypost", name="EasyPost", services="")
    CarrierAccount.objects.create(
        carrier=carrier,
        kind=CarrierAccount.Kind.EASYPOST,
        mode=CarrierAccount.Mode.TEST,
        api_key=TEST_KEY,
    )
    return carrier


@pytest.fixture
def postage_location(location, easypost_carrier):
    LocationPostage.objects.create(
        location=location,
        carrier=easypost_carrier,
        street1="417 Montgomery St",
        city="San Francisco",
        state="CA",
        zip="94104",
    )
    return location


@pytest.fixture
def packed(
    picked, product, stock, user, postage_location, django_capture_on_commit_callbacks
):
    """packed(n) returns n packed shipments at the EasyPost location (rates
    fetched on packing)."""

    def make(count=1, **order_options):
        stock(product, count)
        wave = picked([[(product, 1)] for _ in range(count)], **order_options)
        del wave
        shipments = list(Shipment.objects.filter(status="picking").order_by("pk"))
        for shipment in shipments:
            with django_capture_on_commit_callbacks(execute=True):
                shipment_pack(shipment=shipment, actor=user)
        return [Shipment.objects.get(pk=s.pk) for s in shipments]

    return make
