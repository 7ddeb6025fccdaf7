"""The OMS's postage code against EasyPost's own recorded answers.

The official `easypost` client talks to a replay server
(`tests.support.easypost_replay`) that serves the answers EasyPost's Python
client recorded from EasyPost's test API (`tests/fixtures/real/easypost/`):
rating, buying (a PNG label although PDF was asked), the address check,
voiding (refund), end-of-day scan forms and EasyPost's refusals. Each test
asserts what the OMS stored from the recorded answer.
"""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from fulfillment import documents
from fulfillment.exceptions import FulfillmentError
from fulfillment.models import DocumentKind, Shipment, ShipmentStatus
from fulfillment.models.postage import (
    CarrierAccount,
    LabelFileFormat,
    ScanForm,
    ShipmentPostage,
)
from fulfillment.postage import client
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.labels import label_format_of, png_label_pages
from fulfillment.postage.scan_forms import scan_forms_create
from fulfillment.postage.voids import shipment_postage_void
from inventory.models import StockLevel
from orders.models import HoldReason, OrderEvent, OrderStatus
from tests.factories import ProductFactory
from tests.support.easypost_replay import EasyPostReplay, png_label, recorded
from tests.support.files import stored_bytes

pytestmark = pytest.mark.django_db

BUY_SHIPMENT = "shp_9af92e0bdd6a428f8aba267686ab9cae"
GROUND_ADVANTAGE = "rate_b936eae682e543b1a6550ea120e81a3e"
POINTS_PER_INCH = 72


@pytest.fixture
def replay(settings):
    """EasyPost's recorded answers, served to the official client."""
    server = EasyPostReplay().start()
    settings.OMS_EASYPOST_API_BASE = server.api_base
    settings.OMS_EASYPOST_TIMEOUT = 5
    yield server
    server.stop()


def serve_cassette(replay: EasyPostReplay, name: str) -> list:
    answers = recorded(name)
    for answer in answers:
        replay.serve(answer)
    return answers


def serve_one_call_buy(replay: EasyPostReplay, name: str) -> str:
    """Serve a cassette whose shipment was bought at creation (one-call buy):
    its answer rates the shipment, and — being the bought Shipment — answers
    its buy too. Return the EasyPost shipment id."""
    answers = serve_cassette(replay, name)
    bought = answers[0]
    shipment_id = bought.body["id"]
    replay.serve(bought, at=("POST", f"/v2/shipments/{shipment_id}/buy"))
    return shipment_id


# ---- rating and buying: shipment_buy.json


def test_recorded_rates_are_stored_cheapest_first(replay, packed):
    serve_cassette(replay, "shipment_buy")

    [shipment] = packed(1)

    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.status == ShipmentPostage.Status.RATED
    assert postage.easypost_shipment_id == BUY_SHIPMENT
    assert [(r["service"], r["rate"]) for r in postage.rates] == [
        ("GroundAdvantage", "5.93"),
        ("First", "5.93"),
        ("ParcelSelect", "5.93"),
        ("Priority", "6.95"),
        ("Express", "31.25"),
    ]
    assert {r["carrier_account_id"] for r in postage.rates} == {
        "ca_b25657e9896e4d63ac8151ac346ac41e"
    }
    [asked] = replay.bodies("POST", "/v2/shipments")
    assert asked["shipment"]["options"]["label_format"] == "PDF"
    assert postage.label_format_asked == "PDF"
    assert replay.unmatched == []


def test_recorded_png_label_is_stored_as_png_although_pdf_was_asked(
    replay, packed, user
):
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)

    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE
    )

    assert postage.status == ShipmentPostage.Status.BOUGHT
    assert postage.tracking_code == "9400100105442285876350"
    assert (postage.label_carrier, postage.label_service) == ("USPS", "GroundAdvantage")
    assert (str(postage.cost), postage.currency) == ("5.93", "USD")
    assert postage.tracker_id == "trk_1ddd9a69b5d0487ebfc3941639b11b18"
    assert postage.label_url.endswith(
        "/files/postage_label/20231128/e8befd4ff12e134ac6a31282975b6e7251.png"
    )
    assert (postage.label_format, postage.label_format_asked) == ("PNG", "PDF")
    assert stored_bytes(postage.label_file).startswith(b"\x89PNG\r\n\x1a\n")
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.tracking_number == "9400100105442285876350"
    assert shipment.service == "GroundAdvantage"
    bought = OrderEvent.objects.get(order=shipment.order, data__postage="bought")
    assert bought.data["label_format"] == "PNG"
    assert (
        "EasyPost sent a PNG label although PDF was asked; it prints inside the "
        "4×6 in PDF labels." in bought.message
    )
    assert replay.served("POST", f"/v2/shipments/{BUY_SHIPMENT}/buy") == 1
    assert replay.unmatched == []


def test_recorded_png_label_prints_inside_the_4x6_pdf_batch(replay, packed, user):
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [shipment.pk])

    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert rendered.references == [shipment.number]
    assert len(reader.pages) == 1
    page = reader.pages[0]
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx((4 * POINTS_PER_INCH, 6 * POINTS_PER_INCH), abs=0.5)
    [image] = page.images
    assert image.image.size == (1200, 1800)


def test_recorded_png_label_and_our_own_print_in_one_batch(
    replay, packed, user, shipped
):
    serve_cassette(replay, "shipment_buy")
    [bought] = packed(1)
    shipment_postage_buy(shipment=bought, actor=user, rate_id=GROUND_ADVANTAGE)
    own = shipped([(ProductFactory(), 1)]).shipments.get()

    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [own.pk, bought.pk])

    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert rendered.references == sorted([own.number, bought.number])
    assert len(reader.pages) == 2
    for page in reader.pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx((288, 432), abs=0.5)
    png_page = reader.pages[rendered.references.index(bought.number)]
    assert [image.image.size for image in png_page.images] == [(1200, 1800)]


def test_print_action_answers_the_png_label_as_pdf(replay, packed, user, admin_client):
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    response = admin_client.post(
        reverse("admin:fulfillment_shipment_changelist"),
        {"action": "print_shipping_labels", "_selected_action": [shipment.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_shipment_page_shows_the_label_format_note(
    replay, packed, user, admin_client, django_assert_max_num_queries
):
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    with django_assert_max_num_queries(30):
        response = admin_client.get(
            reverse("admin:fulfillment_shipment_change", args=[shipment.pk])
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert "USPS GroundAdvantage 9400100105442285876350: PNG image label." in page
    assert "EasyPost sent a PNG label although PDF was asked" in page


def test_postage_list_shows_the_label_format_note(
    replay, packed, user, admin_client, django_assert_max_num_queries
):
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    with django_assert_max_num_queries(12):
        response = admin_client.get(
            reverse("admin:fulfillment_shipmentpostage_changelist")
        )

    assert response.status_code == 200
    assert "PNG image — EasyPost sent a PNG label although PDF was asked" in (
        response.content.decode()
    )


# ---- the address check: address_create_and_verify.json, address_verify_invalid


@pytest.fixture
def checking_addresses(easypost_carrier):
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(
        verify_addresses=True
    )


def test_recorded_verified_address_lets_the_purchase_go_on(
    replay, packed, user, checking_addresses
):
    serve_cassette(replay, "shipment_buy")
    serve_cassette(replay, "address_create_and_verify")
    [shipment] = packed(1)

    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE
    )

    assert postage.status == ShipmentPostage.Status.BOUGHT
    assert replay.served("POST", "/v2/addresses/create_and_verify") == 1
    assert replay.unmatched == []


def test_recorded_verify_failure_holds_the_order_and_buys_nothing(
    replay, packed, user, checking_addresses
):
    serve_cassette(replay, "shipment_buy")
    [refusal] = recorded("address_verify_invalid")
    assert refusal.status == 422
    # EasyPost answers a failed create-and-verify with the same refusal.
    replay.serve(refusal, at=("POST", "/v2/addresses/create_and_verify"))
    [shipment] = packed(1)

    with pytest.raises(client.PostageError) as caught:
        shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    assert str(caught.value) == (
        "Address check failed: Unable to verify address. (address: Address not "
        "found; street1: House number is missing)"
    )
    order = shipment.order
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (
        OrderStatus.ON_HOLD,
        HoldReason.ADDRESS_CHECK,
    )
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.status == ShipmentPostage.Status.NEW
    assert replay.served("POST", f"/v2/shipments/{BUY_SHIPMENT}/buy") == 0


# ---- EasyPost's refusal: error.json


def test_recorded_refusal_is_kept_on_the_postage(replay, packed):
    serve_cassette(replay, "error")

    [shipment] = packed(1)

    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.status == ShipmentPostage.Status.NEW
    assert postage.rates == []
    assert postage.error == (
        "EasyPost: Missing required parameter. (shipment: cannot be blank)"
    )


# ---- voiding: shipment_refund.json


def test_recorded_refund_voids_the_label_and_unships(replay, packed, user, product):
    easypost_id = serve_one_call_buy(replay, "shipment_refund")
    [shipment] = packed(1)
    rate_id = ShipmentPostage.objects.get(shipment=shipment).rate(
        "rate_3370f697867648089678702603133fec"
    )["id"]
    bought = shipment_postage_buy(shipment=shipment, actor=user, rate_id=rate_id)
    assert (bought.tracking_code, bought.label_format) == (
        "9400100104262210341637",
        LabelFileFormat.PNG,
    )
    assert str(bought.cost) == "6.07"

    postage = shipment_postage_void(shipment=shipment, actor=user)

    assert postage.status == ShipmentPostage.Status.VOIDED
    assert postage.refund_status == ShipmentPostage.Refund.SUBMITTED
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKED
    assert shipment.tracking_number == ""
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.allocated) == (1, 1)
    voided = OrderEvent.objects.get(order=shipment.order, data__postage="voided")
    assert voided.data["refund_status"] == "submitted"
    assert voided.data["easypost_shipment"] == easypost_id
    assert replay.served("POST", f"/v2/shipments/{easypost_id}/refund") == 1
    assert replay.unmatched == []


# ---- end of day: scanform_create.json


def test_recorded_scan_form_hands_the_label_over(
    replay,
    packed,
    user,
    postage_location,
    easypost_carrier,
    django_capture_on_commit_callbacks,
):
    serve_one_call_buy(replay, "scanform_create")
    [shipment] = packed(1)
    rate_id = "rate_9be88ec5a3bf4475a6bc3e3af45f618c"
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=rate_id)

    with django_capture_on_commit_callbacks(execute=True):
        [form] = scan_forms_create(
            location=postage_location, carrier=easypost_carrier, actor=user
        )

    form = ScanForm.objects.get(pk=form.pk)
    assert form.easypost_id == "sf_3c5c5b35c1144bfa9c39bd22b52fce2d"
    assert form.status == "created"
    assert form.label_carrier == "USPS"
    assert form.tracking_codes == ["9400100105442285862681"]
    assert form.form_url.endswith(
        "/files/scan_form/20231128/e8240f3ff9915040b8ad655e32c484d477.pdf"
    )
    assert stored_bytes(form.form_file).startswith(b"%PDF")
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.scan_form_id == form.pk
    with pytest.raises(FulfillmentError, match="end-of-day scan form"):
        shipment_postage_void(shipment=shipment, actor=user)
    assert replay.unmatched == []


# ---- the label file's format is read from its bytes


@pytest.mark.parametrize(
    "data, found",
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"^XA^FO40,40^A0N,40,40^FDLABEL^FS^XZ", "ZPL"),
        (b"\n~CT~~CD,~CC^~CT~\n^XA~TA000~JSN^LT0^XZ", "ZPL"),
        (b'\nN\nq812\nA50,0,0,1,1,1,N,"EPL2"\nP1\n', ""),
        (b"<html>Not found</html>", ""),
    ],
    ids=["pdf", "png", "zpl", "zpl-setup-first", "epl2", "html"],
)
def test_label_format_is_read_from_the_bytes(data, found):
    assert label_format_of(data) == found


def test_landscape_png_label_is_turned_onto_a_4x6_page():
    [page] = png_label_pages(png_label(width=1800, height=1200), "shipment SH-1")
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx((288, 432), abs=0.5)
    assert page.images[0].image.size == (1200, 1800)


def test_png_label_of_another_size_is_centred_on_a_4x6_page():
    [page] = png_label_pages(png_label(width=812, height=1000), "shipment SH-1")
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx((288, 432), abs=0.5)


def test_unreadable_png_label_is_refused_with_its_shipment(replay, packed, user):
    serve_cassette(replay, "shipment_buy")
    replay.files[
        "/files/postage_label/20231128/e8befd4ff12e134ac6a31282975b6e7251.png"
    ] = (
        b"\x89PNG\r\n\x1a\nbroken",
        "image/png",
    )
    [shipment] = packed(1)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE)

    with pytest.raises(FulfillmentError, match=f"shipment {shipment.number}"):
        documents.render(DocumentKind.SHIPPING_LABEL, [shipment.pk])


def test_zpl_location_with_a_png_label_prints_it_as_pdf(
    replay, packed, user, postage_location, admin_client
):
    postage_location.postage.label_format = "ZPL"
    postage_location.postage.save()
    serve_cassette(replay, "shipment_buy")
    [shipment] = packed(1)
    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=GROUND_ADVANTAGE
    )
    assert (postage.label_format, postage.label_format_asked) == ("PNG", "ZPL")

    response = admin_client.post(
        reverse("admin:fulfillment_shipment_changelist"),
        {"action": "print_shipping_labels", "_selected_action": [shipment.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.SHIPPED
