"""The pack station's services: the scan rules, the station lock, item
missing (ship short), packing and shipping in one step."""

import pytest

from fulfillment.exceptions import FulfillmentError, PackStationBusyError
from fulfillment.models import PackClaim, PackScan, Shipment, ShipmentStatus
from fulfillment.services import packstation as station
from tests import factories
from tests.fulfillment.packstation.moves import (
    HERE,
    THERE,
    full_scan,
    open_here,
    scan,
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
    from fulfillment.services.picking import shipments_plan

    shipments_plan(orders=[order])
    pending = Shipment.objects.get(order=order)

    with pytest.raises(FulfillmentError, match="pick list"):
        open_here(pending, user)


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


# ---- forgiving the scanner (issue 30.2)


def pack_here(shipment, user, **fields):
    return station.packstation_pack(
        shipment_id=shipment.pk,
        actor=user,
        station=HERE,
        **{"packages": 1, "weight": "1200", **fields},
    )


def test_scan_of_a_complete_shipment_is_refused_as_an_over_scan(shipment, user):
    full_scan(shipment, user)

    outcome = scan(shipment, user, "4000000000003")

    assert not outcome.accepted
    assert outcome.message.startswith("Over-scan: shipment")
    assert "take it out of the box" in outcome.message
    assert outcome.state["units_scanned"] == 6
    refused = PackScan.objects.get(kind="item", accepted=False)
    assert refused.code == "4000000000003"


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("weight", "4000000000003"),
        ("weight", "TEE-2"),
        ("weight", "2*tee-1"),
        ("packages", "4000000000001"),
        ("packages", "tee-3"),
    ],
)
def test_item_code_in_weight_or_parcels_is_refused_and_nothing_packed(
    shipment, user, carrier, field, typed
):
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="is a scan of TEE-"):
        pack_here(
            shipment,
            user,
            carrier_id=carrier.pk,
            tracking_number="1Z1",
            **{field: typed},
        )

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKING
    assert not PackScan.objects.filter(kind="pack").exists()


def test_gtin_of_another_item_in_the_weight_is_refused(shipment, user, carrier):
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="is a scan of 5012345678900"):
        pack_here(
            shipment,
            user,
            weight="5012345678900",
            carrier_id=carrier.pk,
            tracking_number="1Z1",
        )


@pytest.mark.parametrize("typed", ["0", "100", "two", ""])
def test_parcels_outside_one_to_ninety_nine_are_refused(shipment, user, typed):
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="Parcels must be a number"):
        pack_here(shipment, user, packages=typed)


def test_pack_saves_the_chosen_service_of_the_carrier(shipment, user):
    carrier = factories.CarrierFactory(services="Ground, Express")
    full_scan(shipment, user)

    pack_here(
        shipment,
        user,
        packages="2",
        carrier_id=carrier.pk,
        service="Express",
        tracking_number="1ZEXP",
    )

    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.service, shipment.packages) == (
        carrier,
        "Express",
        2,
    )


def test_pack_refuses_a_service_the_carrier_does_not_offer(shipment, user):
    carrier = factories.CarrierFactory(services="Ground, Express")
    full_scan(shipment, user)

    with pytest.raises(FulfillmentError, match="has no service 'Overnight'"):
        pack_here(
            shipment,
            user,
            carrier_id=carrier.pk,
            service="Overnight",
            tracking_number="1Z2",
        )


def test_station_options_list_each_carriers_services(shipment):
    carrier = factories.CarrierFactory(services="Ground, Express")

    options = station.station_options(location_id=shipment.location_id)

    mine = next(c for c in options["carriers"] if c["id"] == carrier.pk)
    assert mine["services"] == ["Ground", "Express"]


def test_another_shipments_slip_in_the_item_box_is_offered_not_refused(
    shipment, user, products, stock, picked
):
    picked([[(products[0], 1)]])
    other = Shipment.objects.exclude(pk=shipment.pk).get()
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")

    outcome = scan(shipment, user, other.number)

    assert (outcome.accepted, outcome.slip) == (False, other.number)
    assert "put it aside" not in outcome.message
    assert f"{shipment.number} stays as it is" in outcome.message
    assert not PackScan.objects.filter(accepted=False).exists()
    assert PackClaim.objects.get(shipment=shipment).station == HERE


def test_own_slip_in_the_item_box_counts_nothing(shipment, user):
    open_here(shipment, user)

    outcome = scan(shipment, user, shipment.number)

    assert (outcome.accepted, outcome.slip) == (False, "")
    assert "which is open: scan its items" in outcome.message
    assert outcome.state["units_scanned"] == 0


def test_ship_short_undone_brings_the_units_back(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    scan(shipment, user, "TEE-3")
    short = station.packstation_missing(
        shipment_id=shipment.pk, actor=user, station=HERE
    )
    assert short["short"] == short["remainder"]

    state = station.packstation_short_undo(
        shipment_id=shipment.pk, actor=user, station=HERE
    )

    assert [(r["sku"], r["expected"], r["scanned"]) for r in state["lines"]] == [
        ("TEE-1", 1, 1),
        ("TEE-3", 3, 1),
        ("TEE-2", 2, 0),
    ]
    assert not state["complete"] and state["short"] == ""
    assert not Shipment.objects.filter(number=short["remainder"]).exists()
    undone = PackScan.objects.get(kind="unshort")
    assert (undone.code, undone.quantity) == (short["remainder"], 4)
    assert "Ship-short of shipment" in shipment.order.events.latest("pk").message
    assert (
        station.packstation_open(code=shipment.number, actor=user, station=HERE)[
            "short"
        ]
        == ""
    )


def test_ship_short_cannot_be_undone_once_packed(shipment, user, carrier):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    station.packstation_missing(shipment_id=shipment.pk, actor=user, station=HERE)
    pack_here(shipment, user, weight="200", carrier_id=carrier.pk, tracking_number="1")

    with pytest.raises(FulfillmentError):
        station.packstation_short_undo(
            shipment_id=shipment.pk, actor=user, station=HERE
        )

    assert Shipment.objects.filter(order=shipment.order).count() == 2


def test_ship_short_cannot_be_undone_once_the_rest_has_moved_on(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    short = station.packstation_missing(
        shipment_id=shipment.pk, actor=user, station=HERE
    )
    # Its rest was cancelled elsewhere meanwhile (set directly: the set-up).
    Shipment.objects.filter(number=short["remainder"]).update(status="cancelled")

    with pytest.raises(FulfillmentError, match="which is cancelled now"):
        station.packstation_short_undo(
            shipment_id=shipment.pk, actor=user, station=HERE
        )

    assert Shipment.objects.filter(number=short["remainder"]).exists()
    assert [line.quantity for line in shipment.lines.all()] == [1]


def test_nothing_to_undo_without_a_ship_short(shipment, user):
    open_here(shipment, user)

    with pytest.raises(FulfillmentError, match="not shipped short"):
        station.packstation_short_undo(
            shipment_id=shipment.pk, actor=user, station=HERE
        )
