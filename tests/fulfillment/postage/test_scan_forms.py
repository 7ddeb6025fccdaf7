"""End-of-day scan forms: one per carrier of the day's labels, recorded,
the PDF fetched in the background, timeouts never make a second form."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.exceptions import FulfillmentError
from fulfillment.models.postage import LocationPostage, RateChoice, ScanForm
from fulfillment.models.postage import ShipmentPostage as SP
from fulfillment.postage.buying import shipment_postage_buy, shipments_postage_buy
from fulfillment.postage.scan_forms import scan_form_files_fetch_due, scan_forms_create
from fulfillment.postage.voids import shipment_postage_void
from tests.support.files import stored_bytes


@pytest.fixture
def bought(packed, easypost, user, postage_location):
    """bought(n) buys the cheapest (USPS) label of n packed shipments."""

    def make(count):
        LocationPostage.objects.filter(location=postage_location).update(
            rate_choice=RateChoice.CHEAPEST
        )
        shipments = packed(count)
        report = shipments_postage_buy(
            choices=[(s.pk, "") for s in shipments], actor=user, workers=2
        )
        assert report.errors == []
        return shipments

    return make


def test_scan_form_for_the_days_labels_recorded_and_printable(
    bought,
    easypost,
    user,
    postage_location,
    easypost_carrier,
    django_capture_on_commit_callbacks,
):
    shipments = bought(3)
    with django_capture_on_commit_callbacks(execute=True):
        [form] = scan_forms_create(
            location=postage_location, carrier=easypost_carrier, actor=user
        )
    form.refresh_from_db()
    assert form.status == "created" and form.easypost_id.startswith("sf_")
    assert form.label_carrier == "USPS"
    assert form.day == timezone.localdate()
    assert form.created_by == user
    codes = set(SP.objects.values_list("tracking_code", flat=True))
    assert set(form.tracking_codes) == codes and len(codes) == 3
    assert stored_bytes(form.form_file).startswith(b"%PDF")
    assert SP.objects.filter(scan_form=form).count() == 3
    body = easypost.bodies[easypost.calls.index(("POST", "/v2/scan_forms"))][
        "scan_form"
    ]
    assert sorted(s["id"] for s in body["shipments"]) == sorted(
        SP.objects.values_list("easypost_shipment_id", flat=True)
    )
    # On the form, the parcels are handed over: no void.
    with pytest.raises(
        FulfillmentError, match=f"on the end-of-day scan form #{form.pk}"
    ):
        shipment_postage_void(shipment=shipments[0], actor=user)
    # Nothing left for a second form.
    with pytest.raises(FulfillmentError, match="wait for a form"):
        scan_forms_create(
            location=postage_location, carrier=easypost_carrier, actor=user
        )


def test_one_form_per_carrier_and_only_the_day(
    packed, easypost, user, postage_location, easypost_carrier
):
    shipments = packed(3)
    for shipment, rate in zip(shipments, (0, 2, 0), strict=True):
        rates = SP.objects.get(shipment=shipment).rates
        shipment_postage_buy(shipment=shipment, actor=user, rate_id=rates[rate]["id"])
    SP.objects.filter(shipment=shipments[2]).update(
        bought_at=timezone.now() - timedelta(days=2)
    )
    forms = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    assert [(f.label_carrier, len(f.tracking_codes)) for f in forms] == [
        ("UPS", 1),
        ("USPS", 1),
    ]
    assert SP.objects.get(shipment=shipments[2]).scan_form is None


def test_scan_form_refused_frees_the_labels(
    bought, easypost, user, postage_location, easypost_carrier
):
    [shipment] = bought(1)
    postage = SP.objects.get(shipment=shipment)
    # EasyPost knows the label is refunded (a void made elsewhere).
    easypost.shipments[postage.easypost_shipment_id]["refund_status"] = "submitted"
    [form] = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    assert form.status == "failed"
    assert "refunded" in form.message
    assert SP.objects.get(shipment=shipment).scan_form is None


def test_scan_form_timeout_then_retry_makes_one_form(
    bought, easypost, user, postage_location, easypost_carrier, settings
):
    bought(2)
    settings.OMS_EASYPOST_TIMEOUT = 1
    easypost.scan_form_delay = 1.5
    [form] = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    assert form.status == "unknown"
    assert SP.objects.filter(scan_form=form).count() == 2
    easypost.scan_form_delay = 0
    [again] = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    assert again.pk == form.pk
    assert again.status == "created"
    assert len(easypost.scan_forms) == 1
    assert again.easypost_id == next(iter(easypost.scan_forms))
    assert ScanForm.objects.count() == 1


def test_form_pdf_fetched_by_the_sweep_when_its_task_was_lost(
    bought, easypost, user, postage_location, easypost_carrier
):
    bought(1)
    [form] = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    assert not ScanForm.objects.get(pk=form.pk).form_file
    assert scan_form_files_fetch_due() == "1 form fetched"
    assert stored_bytes(ScanForm.objects.get(pk=form.pk).form_file).startswith(b"%PDF")
