"""The pack station's services: the scan rules, the station lock, item
missing (ship short), packing and shipping in one step, and its admin
endpoints (JSON, CSRF, query counts)."""

import json

import pytest

from fulfillment.exceptions import FulfillmentError, PackStationBusyError
from fulfillment.models import PackClaim, PackScan, Shipment, ShipmentStatus
from fulfillment.services import packstation as station
from inventory.models import StockLevel
from tests import factories
from tests.fulfillment.test_documents import decode_barcodes, needs_zbar

HERE = "st-here"
THERE = "st-there"


@pytest.fixture
def products(db):
    return [
        factories.ProductFactory(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"400000000000{n}", weight_g=200
        )
        for n in range(1, 4)
    ]


@pytest.fixture
def shipment(products, stock, picked, location):
    """A shipment being picked: 1 × TEE-1, 2 × TEE-2, 3 × TEE-3."""
    for product in products:
        stock(product, 10)
    StockLevel.objects.filter(product=products[0]).update(bin="A-01-1")
    picked([[(products[0], 1), (products[1], 2), (products[2], 3)]])
    return Shipment.objects.get(status=ShipmentStatus.PICKING)


def open_here(shipment, user, at=HERE, **options):
    return station.packstation_open(
        code=shipment.number, actor=user, station=at, **options
    )


def scan(shipment, user, code, at=HERE):
    return station.packstation_scan(
        shipment_id=shipment.pk, code=code, actor=user, station=at
    )


def test_open_shows_lines_with_expected_quantities_and_bins(shipment, user):
    state = open_here(shipment, user)

    assert [(r["sku"], r["expected"], r["scanned"]) for r in state["lines"]] == [
        ("TEE-1", 1, 0),
        ("TEE-2", 2, 0),
        ("TEE-3", 3, 0),
    ]
    assert state["lines"][0]["bin"] == "A-01-1"
    assert state["weight_g"] == 6 * 200
    assert not state["complete"]
    assert PackClaim.objects.get(shipment=shipment).station == HERE


@pytest.mark.parametrize("typed", ["digits", "short", "lower"])
def test_open_by_a_typed_number(shipment, user, typed):
    digits = shipment.number.split("-")[-1].lstrip("0")
    code = {"digits": digits, "short": f"SH-{digits}", "lower": shipment.number.lower()}

    state = station.packstation_open(code=code[typed], actor=user, station=HERE)

    assert state["shipment"]["number"] == shipment.number


def test_open_unknown_slip_is_refused(db, user):
    with pytest.raises(FulfillmentError, match="No shipment SH-999999"):
        station.packstation_open(code="SH-999999", actor=user, station=HERE)


def test_scan_by_gtin_and_by_sku_counts_one_each(shipment, user):
    open_here(shipment, user)

    first = scan(shipment, user, "4000000000002")
    second = scan(shipment, user, "tee-2")

    assert first.accepted and second.accepted
    assert second.state["lines"][1]["scanned"] == 2


def test_multiple_prefix_counts_that_many(shipment, user):
    open_here(shipment, user)

    outcome = scan(shipment, user, "3*4000000000003")

    assert outcome.accepted
    assert outcome.state["lines"][2]["scanned"] == 3
    assert PackScan.objects.get(kind="item").quantity == 3


def test_item_not_in_shipment_is_refused_and_recorded(shipment, user):
    factories.ProductFactory(sku="MUG-1", barcode="4000000000099")
    open_here(shipment, user)

    outcome = scan(shipment, user, "4000000000099")

    assert not outcome.accepted
    assert "not in shipment" in outcome.message
    assert outcome.state["units_scanned"] == 0
    refused = PackScan.objects.get(kind="item")
    assert (refused.accepted, refused.user, refused.code) == (
        False,
        user,
        "4000000000099",
    )


def test_over_scan_is_refused_and_not_counted(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")

    outcome = scan(shipment, user, "TEE-1")

    assert not outcome.accepted
    assert "Too many TEE-1" in outcome.message
    assert outcome.state["lines"][0]["scanned"] == 1


def test_multiple_beyond_what_is_left_is_refused_whole(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-3")

    outcome = scan(shipment, user, "5*TEE-3")

    assert not outcome.accepted
    assert "only 2 left" in outcome.message
    assert outcome.state["lines"][2]["scanned"] == 1


@pytest.mark.parametrize("code", ["0*TEE-1", "1000*TEE-1", "2*", "  "])
def test_malformed_scans_are_refused(shipment, user, code):
    open_here(shipment, user)

    outcome = scan(shipment, user, code)

    assert not outcome.accepted
    assert outcome.state["units_scanned"] == 0


def test_refresh_reads_the_stored_scans_without_counting_again(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "2*TEE-2")

    again = open_here(shipment, user)
    state = station.packstation_state(shipment_id=shipment.pk, station=HERE)

    assert again["lines"][1]["scanned"] == 2 == state["lines"][1]["scanned"]
    # Re-opening at the same station is not a new claim.
    assert PackScan.objects.filter(kind="open").count() == 1


def test_second_station_is_refused_until_it_takes_over(shipment, user):
    other = factories.UserFactory(username="packer2")
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")

    with pytest.raises(PackStationBusyError, match="clerk"):
        open_here(shipment, other, at=THERE)
    state = open_here(shipment, other, at=THERE, take_over=True)

    assert state["lines"][0]["scanned"] == 1
    with pytest.raises(PackStationBusyError, match="taken over by packer2"):
        scan(shipment, user, "TEE-2")
    assert PackScan.objects.filter(kind="item").count() == 1
    assert PackScan.objects.get(kind="take_over").user == other


def test_bad_station_name_is_refused(shipment, user):
    with pytest.raises(FulfillmentError, match="station"):
        open_here(shipment, user, at="bad station!")


def test_pending_shipment_cannot_be_opened(products, stock, place_order, user):
    stock(products[0], 5)
    order = place_order([(products[0], 1)])
    from fulfillment.services.picking import _shipments_plan

    _shipments_plan(orders=[order])
    pending = Shipment.objects.get(order=order)

    with pytest.raises(FulfillmentError, match="pick list"):
        open_here(pending, user)


def full_scan(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    scan(shipment, user, "2*TEE-2")
    return scan(shipment, user, "3*TEE-3")


def test_pack_before_every_unit_is_scanned_is_refused(shipment, user, carrier):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")

    with pytest.raises(FulfillmentError, match="5 unit"):
        station.packstation_pack(
            shipment_id=shipment.pk,
            actor=user,
            station=HERE,
            packages=1,
            weight="1200",
            carrier_id=carrier.pk,
            tracking_number="1Z1",
        )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKING


def test_pack_ships_with_the_scanned_tracking_number(shipment, user, carrier):
    assert full_scan(shipment, user).state["complete"]

    outcome = station.packstation_pack(
        shipment_id=shipment.pk,
        actor=user,
        station=HERE,
        packages=2,
        weight="1.35 kg",
        carrier_id=carrier.pk,
        tracking_number=" 1Z999 ",
    )

    shipment.refresh_from_db()
    assert (outcome.status, outcome.buying) == (ShipmentStatus.SHIPPED, False)
    assert shipment.status == ShipmentStatus.SHIPPED
    assert (shipment.tracking_number, shipment.packages, shipment.weight_g) == (
        "1Z999",
        2,
        1350,
    )
    assert not PackClaim.objects.filter(shipment=shipment).exists()
    assert PackScan.objects.get(kind="pack").user == user


def test_pack_without_tracking_for_a_carrier_does_nothing(shipment, user, carrier):
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="tracking number"):
        station.packstation_pack(
            shipment_id=shipment.pk,
            actor=user,
            station=HERE,
            packages=1,
            weight="1200",
            carrier_id=carrier.pk,
        )

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKING
    assert not PackScan.objects.filter(kind="pack").exists()


@pytest.mark.parametrize(
    ("typed", "grams"),
    [("1250", 1250), ("1250 g", 1250), ("1.25 kg", 1250), ("1,5kg", 1500), (700, 700)],
)
def test_weight_parse_reads_what_a_scale_types(typed, grams):
    assert station.weight_parse(typed) == grams


@pytest.mark.parametrize("typed", ["heavy", "-3", "2000 kg", ""])
def test_weight_parse_refuses_nonsense(typed):
    with pytest.raises(FulfillmentError):
        station.weight_parse(typed)


def test_item_missing_ships_short_and_keeps_the_rest_reserved(shipment, user, carrier):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    scan(shipment, user, "TEE-3")

    state = station.packstation_missing(
        shipment_id=shipment.pk, actor=user, station=HERE
    )

    assert state["complete"]
    assert [(r["sku"], r["expected"]) for r in state["lines"]] == [
        ("TEE-1", 1),
        ("TEE-3", 1),
    ]
    remainder = Shipment.objects.get(number=state["remainder"])
    assert remainder.status == ShipmentStatus.PENDING
    assert sorted(
        (line.order_line.sku, line.quantity) for line in remainder.lines.all()
    ) == [("TEE-2", 2), ("TEE-3", 2)]
    station.packstation_pack(
        shipment_id=shipment.pk,
        actor=user,
        station=HERE,
        packages=1,
        weight="400",
        carrier_id=carrier.pk,
        tracking_number="1Z-SHORT",
    )
    shipment.order.refresh_from_db()
    assert shipment.order.status == "partially_shipped"
    missing = PackScan.objects.get(kind="missing")
    assert "2 × TEE-2" in missing.reason and remainder.number in missing.reason


def test_item_missing_with_nothing_scanned_is_refused(shipment, user):
    open_here(shipment, user)

    with pytest.raises(FulfillmentError, match="Nothing of shipment"):
        station.packstation_missing(shipment_id=shipment.pk, actor=user, station=HERE)


def test_item_missing_when_all_is_scanned_is_refused(shipment, user):
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="nothing is missing"):
        station.packstation_missing(shipment_id=shipment.pk, actor=user, station=HERE)


# ---- the admin endpoints


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
