"""Bought labels in printing, ZPL labels, and the postage admin."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from fulfillment import documents, sheets, zpl
from fulfillment.models import DocumentKind, DocumentPrint, Shipment, ShipmentStatus
from fulfillment.models.postage import (
    CarrierAccount,
    LabelFormat,
    LocationPostage,
    ShipmentPostage,
)
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.labels import shipping_labels_zpl
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _buy(shipment, user, index=0):
    postage = ShipmentPostage.objects.get(shipment=shipment)
    return shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=postage.rates[index]["id"]
    )


# ---- ZPL of our own labels


def test_own_zpl_labels_well_formed_one_per_shipment(shipped, product):
    orders = [shipped([(product, 1)]) for _ in range(3)]
    shipments = list(Shipment.objects.filter(order__in=orders).order_by("number"))
    text, numbers = shipping_labels_zpl([s.pk for s in shipments])
    blocks = zpl.zpl_blocks(text)
    assert numbers == [s.number for s in shipments]
    assert len(blocks) == 3 and text.count("^XA") == 3 and text.count("^XZ") == 3
    for block, shipment in zip(blocks, shipments, strict=True):
        assert block.startswith("^XA") and block.endswith("^XZ")
        assert f"^BCN,180,Y,N,N^FH^FD{shipment.tracking_number}^FS" in block
        assert "^BQN,2,5^FH^FDMA,https://track.example/" in block


def test_zpl_escapes_customer_text(shipped, product):
    order = shipped([(product, 1)])
    order.ship_name = "Evil ^XZ~JR Ünal"
    order.save(update_fields=["ship_name"])
    [label] = sheets.shipping_labels(shipment_ids=[order.shipments.get().pk])
    block = zpl.label_zpl(label)
    assert block.count("^XZ") == 1 and "~JR" not in block
    assert "Evil _5EXZ_7EJR _C3_9Cnal" in block


def test_own_zpl_renders_one_block_per_label_in_a_large_batch(shipped, product):
    # The speed (labels/s) is measured by tests/bench/bench_labels.py.
    order = shipped([(product, 1)])
    [label] = sheets.shipping_labels(shipment_ids=[order.shipments.get().pk])
    text = zpl.labels_zpl([label] * 4000)
    assert text.count("^XA") == 4000 and text.count("^XZ") == 4000
    assert text.startswith("^XA") and text.rstrip().endswith("^XZ")


# ---- bought labels join the batch printing


def test_bought_pdf_labels_merge_with_ours_in_number_order(
    packed, easypost, user, shipped, product
):
    [bought] = packed(1)
    _buy(bought, user)
    own = shipped([(ProductFactory(), 1)]).shipments.get()
    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [own.pk, bought.pk])
    assert rendered.references == sorted([own.number, bought.number])
    assert rendered.pages == 2
    assert len(PdfReader(io.BytesIO(rendered.pdf)).pages) == 2


def test_zpl_location_prints_bought_zpl_labels_and_logs_print(
    admin_client, packed, easypost, user, postage_location
):
    LocationPostage.objects.filter(location=postage_location).update(
        label_format=LabelFormat.ZPL
    )
    [shipment] = packed(1)
    sent = easypost.bodies[easypost.calls.index(("POST", "/v2/shipments"))]
    assert sent["shipment"]["options"]["label_format"] == "ZPL"
    postage = _buy(shipment, user)
    assert postage.label_format == LabelFormat.ZPL
    response = admin_client.post(
        reverse("admin:fulfillment_shipment_changelist"),
        {"action": "print_shipping_labels", "_selected_action": [shipment.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/zpl")
    body = response.content.decode()
    assert body.startswith("^XA") and body.strip().endswith("^XZ")
    assert postage.tracking_code in body
    assert DocumentPrint.objects.filter(kind=DocumentKind.SHIPPING_LABEL).count() == 1


# ---- admin


def test_ship_form_shows_rates_with_preferred_checked(admin_client, packed, easypost):
    [shipment] = packed(1)
    response = admin_client.post(
        reverse("admin:fulfillment_shipment_changelist"),
        {"action": "ship", "_selected_action": [shipment.pk]},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "USPS Priority · 7.80 USD · 2 days" in page
    assert f'name="rate-{shipment.pk}"' in page
    assert "Buy chosen labels" in page


def test_ship_form_buy_button_buys_chosen_rate(
    admin_client, packed, easypost, django_capture_on_commit_callbacks
):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:fulfillment_shipmentpostage_buy"),
            {
                "_selected_action": [shipment.pk],
                f"rate-{shipment.pk}": postage.rates[2]["id"],
            },
        )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.service == "Ground"


def test_carrier_account_key_is_write_only(admin_client, easypost_carrier):
    account = CarrierAccount.objects.get(carrier=easypost_carrier)
    url = reverse("admin:fulfillment_carrieraccount_change", args=[account.pk])
    page = admin_client.get(url).content.decode()
    assert account.api_key not in page
    response = admin_client.post(
        url,
        {
            "carrier": easypost_carrier.pk,
            "kind": "easypost",
            "mode": "production",
            "carrier_account_ids": "ca_ups",
            "new_api_key": "EZAK_live_key_123456",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.api_key == "EZAK_live_key_123456"
    response = admin_client.post(
        url,
        {
            "carrier": easypost_carrier.pk,
            "kind": "easypost",
            "mode": "production",
            "carrier_account_ids": "ca_ups",
            "new_api_key": "",
        },
    )
    account.refresh_from_db()
    assert account.api_key == "EZAK_live_key_123456"
