"""The pack station in the admin: its JSON endpoints (CSRF, query counts),
the scans on the shipment page, the packing slip's barcodes, and the
dashboard's packers of the day."""

import json

import pytest

from fulfillment.models import PackClaim, PackScan
from fulfillment.services import packstation as station
from tests.fulfillment.packstation.moves import (
    HERE,
    THERE,
    full_scan,
    open_here,
    scan,
)
from tests.fulfillment.test_documents import decode_barcodes, needs_zbar


@pytest.fixture
def packer(db):
    from django.contrib.auth import get_user_model

    from oms.roles import WAREHOUSE, roles_setup

    groups = roles_setup()
    user = get_user_model().objects.create_user(
        username="packer", password="x", is_staff=True
    )
    user.groups.add(groups[WAREHOUSE])
    return user


def call(client, name, body):
    return client.post(
        f"/admin/fulfillment/packclaim/{name}/",
        json.dumps({"station": HERE, **body}),
        content_type="application/json",
    )


def test_station_page_loads_for_the_warehouse_role(
    client, packer, django_assert_max_num_queries
):
    client.force_login(packer)

    with django_assert_max_num_queries(8):
        response = client.get("/admin/fulfillment/packclaim/")

    assert response.status_code == 200
    assert b"packstation.js" in response.content
    assert b'id="slip-scan"' in response.content


def test_station_is_refused_to_customer_service(client, db):
    from django.contrib.auth import get_user_model

    from oms.roles import CUSTOMER_SERVICE, roles_setup

    user = get_user_model().objects.create_user(username="cs", is_staff=True)
    user.groups.add(roles_setup()[CUSTOMER_SERVICE])
    client.force_login(user)

    assert client.get("/admin/fulfillment/packclaim/").status_code == 403
    assert call(client, "open", {"code": "SH-1"}).status_code == 403


def test_endpoints_scan_and_refuse_as_json(
    client, packer, shipment, django_assert_max_num_queries
):
    client.force_login(packer)
    opened = call(client, "open", {"code": shipment.number}).json()
    assert opened["ok"] and opened["state"]["units_expected"] == 6

    # The number of queries of a scan does not grow with the lines.
    with django_assert_max_num_queries(14):
        answer = call(client, "scan", {"shipment": shipment.pk, "code": "3*TEE-3"})
    refused = call(client, "scan", {"shipment": shipment.pk, "code": "TEE-9"}).json()

    assert answer.status_code == 200 and answer.json()["accepted"]
    assert refused["ok"] and not refused["accepted"]
    busy = client.post(
        "/admin/fulfillment/packclaim/open/",
        json.dumps({"station": THERE, "code": shipment.number}),
        content_type="application/json",
    )
    assert busy.status_code == 409 and busy.json()["busy"]


def test_endpoints_answer_bad_input_with_a_message(client, packer, shipment):
    client.force_login(packer)

    garbled = client.post(
        "/admin/fulfillment/packclaim/scan/",
        "{not json",
        content_type="application/json",
    )
    unknown = call(client, "scan", {"shipment": 99999, "code": "X"})
    wrong_type = call(client, "pack", {"shipment": "abc"})

    assert garbled.status_code == 400 and "could not read" in garbled.json()["error"]
    assert unknown.status_code == 404
    assert (
        wrong_type.status_code == 400 and "whole number" in wrong_type.json()["error"]
    )


def test_endpoints_keep_csrf(packer, shipment):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(packer)

    response = call(client, "open", {"code": shipment.number})

    assert response.status_code == 403
    assert not PackClaim.objects.exists()


def test_shipment_page_shows_the_scans_in_queries_that_do_not_grow(
    admin_client, shipment, user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    scan(shipment, user, "NOPE")
    url = f"/admin/fulfillment/shipment/{shipment.pk}/change/"
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    for _ in range(10):
        scan(shipment, user, "NOPE")

    with CaptureQueriesContext(connection) as many:
        again = admin_client.get(url)

    assert response.status_code == again.status_code == 200
    assert b"pack station scans" in response.content.lower()
    assert b"refused: NOPE is not in shipment" in response.content
    assert len(many.captured_queries) == len(few.captured_queries)


def test_label_endpoint_prints_the_shipped_label(client, packer, shipment, carrier):
    full_scan(shipment, packer)
    station.packstation_pack(
        shipment_id=shipment.pk,
        actor=packer,
        station=HERE,
        packages=1,
        weight="1200",
        carrier_id=carrier.pk,
        tracking_number="1ZLABEL",
    )
    client.force_login(packer)

    response = client.get(f"/admin/fulfillment/packclaim/{shipment.pk}/label/")
    progress = client.get(f"/admin/fulfillment/packclaim/{shipment.pk}/progress/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert progress.json()["shipped"] and progress.json()["tracking"] == "1ZLABEL"


# ---- the packing slip and the demo


@needs_zbar
def test_packing_slip_prints_each_item_barcode(shipment):
    from fulfillment import documents
    from fulfillment.models import DocumentKind

    rendered = documents.render(DocumentKind.PACKING_SLIP, [shipment.pk])

    found = decode_barcodes(rendered.pdf, dpi=300)
    assert {f"CODE-128:400000000000{n}" for n in range(1, 4)} <= found
    assert f"CODE-128:{shipment.number}" in found


def test_demo_gtins_are_valid_ean13():
    from oms.seed.catalogue import ean13

    code = ean13(400000000001)

    assert len(code) == 13 and code.startswith("400000000001")
    digits = [int(d) for d in code]
    assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


# ---- the dashboard


def test_dashboard_shows_todays_packs_and_refused_scans_per_packer(
    admin_client, shipment, user, carrier
):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    admin_client.get("/admin/")
    with CaptureQueriesContext(connection) as before:
        admin_client.get("/admin/")
    full_scan(shipment, user)
    scan(shipment, user, "NOPE")
    station.packstation_pack(
        shipment_id=shipment.pk,
        actor=user,
        station=HERE,
        packages=1,
        weight="900",
        carrier_id=carrier.pk,
        tracking_number="1ZDASH",
    )
    PackScan.objects.create(
        shipment=shipment,
        kind="item",
        accepted=False,
        user=user,
        created_at=timezone.now() - timedelta(days=2),
    )

    with CaptureQueriesContext(connection) as after:
        response = admin_client.get("/admin/")

    assert station.packers_today(
        since=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    ) == [("clerk", 1, 1)]
    assert b"Pack station today" in response.content
    assert len(after.captured_queries) == len(before.captured_queries)


def test_warehouse_role_sees_the_scans_on_the_shipment_page(
    client, packer, shipment, user
):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    client.force_login(packer)

    response = client.get(f"/admin/fulfillment/shipment/{shipment.pk}/change/")

    assert response.status_code == 200
    assert b"Pack station scans" in response.content


def test_endpoints_undo_a_ship_short_and_pack_with_a_service(client, packer, shipment):
    from tests import factories

    carrier = factories.CarrierFactory(services="Ground, Express")
    client.force_login(packer)
    call(client, "open", {"code": shipment.number})
    call(client, "scan", {"shipment": shipment.pk, "code": "TEE-1"})
    short = call(client, "missing", {"shipment": shipment.pk}).json()
    assert short["ok"] and short["state"]["short"]

    undone = call(client, "unshort", {"shipment": shipment.pk}).json()
    call(client, "scan", {"shipment": shipment.pk, "code": "2*TEE-2"})
    call(client, "scan", {"shipment": shipment.pk, "code": "3*TEE-3"})
    item_as_weight = call(
        client,
        "pack",
        {"shipment": shipment.pk, "weight": "4000000000003", "packages": "1"},
    ).json()
    packed = call(
        client,
        "pack",
        {
            "shipment": shipment.pk,
            "weight": "1200",
            "packages": "1",
            "carrier": carrier.pk,
            "service": "Ground",
            "tracking": "1ZGROUND",
        },
    ).json()

    assert undone["ok"] and undone["state"]["units_expected"] == 6
    assert not item_as_weight["ok"] and "is a scan of TEE-3" in item_as_weight["error"]
    assert packed["ok"] and packed["status"] == "shipped"
    shipment.refresh_from_db()
    assert (shipment.service, shipment.tracking_number) == ("Ground", "1ZGROUND")


def test_station_page_offers_the_service_and_the_undo(client, packer):
    client.force_login(packer)

    response = client.get("/admin/fulfillment/packclaim/")

    assert b'id="pack-service"' in response.content
    assert b'id="pack-unshort"' in response.content
    assert b"/admin/fulfillment/packclaim/unshort/" in response.content
