"""Postage in the admin: the Void action, the End of day page and the scan
form PDF; EasyPost is only called by tasks after the request's commit."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import ShipmentStatus
from fulfillment.models.postage import (
    CarrierAccount,
    LocationPostage,
    ScanForm,
    ShipmentPostage,
)
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.scan_forms import scan_forms_create
from tests.support.files import stored_bytes


@pytest.fixture
def bought_one(packed, easypost, user):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    return shipment


def test_void_action_voids_after_commit(
    admin_client, bought_one, easypost, django_capture_on_commit_callbacks
):
    postage = ShipmentPostage.objects.get(shipment=bought_one)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("admin:fulfillment_shipmentpostage_changelist"),
            {"action": "void_labels", "_selected_action": [postage.pk]},
        )
    assert response.status_code == 302
    # Nothing asked of EasyPost in the request itself.
    assert easypost.refunds == {}
    for callback in callbacks:
        callback()
    bought_one.refresh_from_db()
    assert bought_one.status == ShipmentStatus.PACKED
    assert ShipmentPostage.objects.get(pk=postage.pk).status == "voided"


def test_end_of_day_page_makes_forms_in_background(
    admin_client,
    bought_one,
    easypost,
    postage_location,
    easypost_carrier,
    django_capture_on_commit_callbacks,
):
    url = reverse("admin:fulfillment_scanform_end_of_day")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Make scan forms" in page.content.decode()
    refused = admin_client.post(url, {"location": "", "carrier": "", "day": "x"})
    assert refused.status_code == 200
    assert "This field is required" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url,
            {
                "location": postage_location.pk,
                "carrier": easypost_carrier.pk,
                "day": timezone.localdate().isoformat(),
            },
        )
    assert response.status_code == 302
    [form] = ScanForm.objects.all()
    assert form.status == "created"
    assert stored_bytes(form.form_file).startswith(b"%PDF")
    pdf = admin_client.get(reverse("admin:fulfillment_scanform_pdf", args=[form.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_end_of_day_with_no_labels_says_so_and_queues_nothing(
    admin_client,
    easypost,
    postage_location,
    easypost_carrier,
    django_capture_on_commit_callbacks,
):
    url = reverse("admin:fulfillment_scanform_end_of_day")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            url,
            {
                "location": postage_location.pk,
                "carrier": easypost_carrier.pk,
                "day": timezone.localdate().isoformat(),
            },
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        f"No labels bought today at {postage_location.code} through "
        f"{easypost_carrier.name} wait for a form" in page
    )
    assert callbacks == []
    assert not ScanForm.objects.exists()


def test_scan_form_list_queries_do_not_grow(
    admin_client, postage_location, easypost_carrier, superuser
):
    url = reverse("admin:fulfillment_scanform_changelist")

    def make(count):
        ScanForm.objects.bulk_create(
            ScanForm(
                location=postage_location,
                carrier=easypost_carrier,
                day=timezone.localdate(),
                label_carrier="USPS",
                status="created",
                form_url="https://example.com/f.pdf",
                tracking_codes=["1", "2"],
                created_by=superuser,
            )
            for _ in range(count)
        )

    make(2)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    make(20)
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(url)
    assert page.status_code == 200
    assert "End of day: make scan forms" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


def test_pdf_not_there_yet_says_so(admin_client, postage_location, easypost_carrier):
    form = ScanForm.objects.create(
        location=postage_location,
        carrier=easypost_carrier,
        day=timezone.localdate(),
        status="created",
        form_url="https://example.com/f.pdf",
    )
    response = admin_client.get(
        reverse("admin:fulfillment_scanform_pdf", args=[form.pk]), follow=True
    )
    assert "has not arrived" in response.content.decode()
    assert (
        admin_client.get(
            reverse("admin:fulfillment_scanform_pdf", args=[9999])
        ).status_code
        == 404
    )


def test_void_of_a_label_on_a_scan_form_is_refused_naming_both(
    admin_client,
    bought_one,
    easypost,
    user,
    postage_location,
    easypost_carrier,
    django_capture_on_commit_callbacks,
):
    [form] = scan_forms_create(
        location=postage_location, carrier=easypost_carrier, actor=user
    )
    postage = ShipmentPostage.objects.get(shipment=bought_one)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("admin:fulfillment_shipmentpostage_changelist"),
            {"action": "void_labels", "_selected_action": [postage.pk]},
            follow=True,
        )

    page = response.content.decode()
    assert (
        f"Shipment {bought_one.number} is on the end-of-day scan form #{form.pk} "
        f"({postage_location.code}, {form.label_carrier}, "
        f"{form.day:%Y-%m-%d}): the carrier takes it with that form, so its label "
        "can no longer be voided." in page
    )
    assert callbacks == []
    assert ShipmentPostage.objects.get(pk=postage.pk).status == "bought"


def postage_settings(location, carrier) -> dict:
    return {
        "location": location.pk,
        "carrier": carrier.pk,
        "street1": "417 Montgomery St",
        "city": "San Francisco",
        "state": "CA",
        "zip": "94104",
        "label_format": "PDF",
    }


def test_postage_settings_refuse_a_carrier_without_an_easypost_account(
    admin_client, location, carrier
):
    response = admin_client.post(
        reverse("admin:fulfillment_locationpostage_add"),
        postage_settings(location, carrier),
    )

    assert response.status_code == 200
    assert (
        f"{carrier.name} has no EasyPost account, so no postage can be bought "
        "through it." in response.content.decode()
    )
    assert not LocationPostage.objects.exists()


def test_postage_settings_take_a_carrier_with_an_easypost_account(
    admin_client, location, easypost_carrier
):
    response = admin_client.post(
        reverse("admin:fulfillment_locationpostage_add"),
        postage_settings(location, easypost_carrier),
    )

    assert response.status_code == 302
    assert LocationPostage.objects.get().carrier == easypost_carrier


def test_return_postage_refuses_an_easypost_account_without_its_key(
    admin_client, channel, easypost_carrier
):
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(api_key="")

    response = admin_client.post(
        reverse("admin:fulfillment_channelpostage_add"),
        {"channel": channel.pk, "return_carrier": easypost_carrier.pk},
    )

    assert response.status_code == 200
    assert "EasyPost account has no API key yet" in response.content.decode()
