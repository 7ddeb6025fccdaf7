"""Pick confirmation: the scan rules (bin, then item; multiples; wrong bin,
wrong item and over-pick refused), progress, short picks feeding ship
short, the location setting off leaving pick lists as they were, and the
admin endpoints (JSON, CSRF, query counts)."""

import json

import pytest

from fulfillment.exceptions import FulfillmentError
from fulfillment.models import PickList, PickScan, Shipment, ShipmentStatus
from fulfillment.services import pickconfirm as confirm
from fulfillment.services import picking
from inventory.models import StockLevel
from tests import factories


@pytest.fixture
def products(db):
    return [
        factories.ProductFactory(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"400000000000{n}", weight_g=200
        )
        for n in range(1, 4)
    ]


@pytest.fixture
def pick_list(products, stock, picked, location):
    """A pick list at a location confirming picks: two orders,
    1 × TEE-1 + 2 × TEE-2, and 3 × TEE-3, in bins A-01, A-02 and B-01."""
    location.confirm_picks = True
    location.save()
    for product, bin_code in zip(products, ["A-01", "A-02", "B-01"], strict=True):
        stock(product, 10)
        StockLevel.objects.filter(product=product).update(bin=bin_code)
    wave = picked([[(products[0], 1), (products[1], 2)], [(products[2], 3)]])
    return wave.pick_lists[0]


def scan(pick_list, user, code):
    return confirm.pick_confirm_scan(pick_list_id=pick_list.pk, code=code, actor=user)


def line_of(state, sku):
    return next(row for row in state["lines"] if row["sku"] == sku)


def test_lines_in_walking_order_with_progress(pick_list, user):
    state = confirm.pick_confirm_state(pick_list_id=pick_list.pk)

    assert [
        (r["bin"], r["sku"], r["expected"], r["picked"]) for r in state["lines"]
    ] == [
        ("A-01", "TEE-1", 1, 0),
        ("A-02", "TEE-2", 2, 0),
        ("B-01", "TEE-3", 3, 0),
    ]
    assert state["units_expected"] == 6 and state["units_picked"] == 0
    assert not state["complete"] and state["bin"] == ""


def test_bin_then_item_counts_and_multiples(pick_list, user):
    assert scan(pick_list, user, "a-01").accepted
    first = scan(pick_list, user, "4000000000001")
    assert first.accepted and line_of(first.state, "TEE-1")["picked"] == 1

    scan(pick_list, user, "B-01")
    multiple = scan(pick_list, user, "3*TEE-3")

    assert multiple.accepted, multiple.message
    assert multiple.state["bin"] == "B-01"
    assert line_of(multiple.state, "TEE-3")["picked"] == 3
    assert multiple.state["units_picked"] == 4
    accepted = PickScan.objects.filter(
        pick_list=pick_list, kind=PickScan.Kind.ITEM, accepted=True
    )
    assert sum(s.quantity for s in accepted) == 4
    assert {s.user for s in PickScan.objects.all()} == {user}


def test_item_before_any_bin_is_refused_as_wrong_bin(pick_list, user):
    outcome = scan(pick_list, user, "TEE-1")

    assert not outcome.accepted
    assert "Scan bin A-01 first" in outcome.message
    assert outcome.state["units_picked"] == 0


def test_wrong_bin_wrong_item_and_over_pick_are_refused_not_counted(pick_list, user):
    scan(pick_list, user, "A-01")

    wrong_bin = scan(pick_list, user, "TEE-2")
    wrong_item = scan(pick_list, user, "MUG-9")
    scan(pick_list, user, "TEE-1")
    over = scan(pick_list, user, "TEE-1")
    unknown_bin_first = scan(pick_list, user, "Z-99")

    assert "Wrong bin: TEE-2 is picked from bin A-02, not A-01" in wrong_bin.message
    assert "Wrong item: MUG-9" in wrong_item.message
    assert "Too many TEE-1" in over.message
    assert not unknown_bin_first.accepted
    assert over.state["units_picked"] == 1
    refused = PickScan.objects.filter(pick_list=pick_list, accepted=False)
    assert refused.count() == 4
    assert all(scan.reason for scan in refused)


def test_multiple_beyond_what_is_left_is_refused(pick_list, user):
    scan(pick_list, user, "B-01")
    scan(pick_list, user, "2*TEE-3")

    outcome = scan(pick_list, user, "2*TEE-3")

    assert not outcome.accepted and "only 1 left" in outcome.message
    assert line_of(outcome.state, "TEE-3")["picked"] == 2


def test_finish_refused_while_units_are_neither_picked_nor_short(pick_list, user):
    scan(pick_list, user, "A-01")
    scan(pick_list, user, "TEE-1")

    with pytest.raises(FulfillmentError, match="5 units on 2 lines"):
        confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)
    assert not PickScan.objects.filter(kind=PickScan.Kind.CONFIRM).exists()


def test_short_picks_ship_short_on_confirmation(pick_list, user):
    tee2 = Shipment.objects.get(lines__order_line__sku="TEE-2")
    tee3 = Shipment.objects.get(lines__order_line__sku="TEE-3")
    scan(pick_list, user, "A-01")
    scan(pick_list, user, "TEE-1")
    scan(pick_list, user, "A-02")
    scan(pick_list, user, "TEE-2")
    state = confirm.pick_confirm_state(pick_list_id=pick_list.pk)
    line = line_of(state, "TEE-2")
    assert state["current"] == line["key"]
    shorted = confirm.pick_confirm_short(
        pick_list_id=pick_list.pk,
        shipment_id=line["shipment_id"],
        order_line_id=line["order_line"],
        actor=user,
    )
    assert line_of(shorted.state, "TEE-2")["short"] == 1
    scan(pick_list, user, "B-01")
    scan(pick_list, user, "3*TEE-3")

    outcome = confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)

    assert len(outcome.remainders) == 1 and outcome.remainders[0] in outcome.message
    tee2.refresh_from_db()
    assert tee2.status == ShipmentStatus.PICKING
    assert sorted((sl.order_line.sku, sl.quantity) for sl in tee2.lines.all()) == [
        ("TEE-1", 1),
        ("TEE-2", 1),
    ]
    rest = Shipment.objects.get(number=outcome.remainders[0])
    assert rest.status == ShipmentStatus.PENDING and rest.pick_list_id is None
    assert [(sl.order_line.sku, sl.quantity) for sl in rest.lines.all()] == [
        ("TEE-2", 1)
    ]
    # The short unit stays reserved for a later pick list.
    assert StockLevel.objects.get(product__sku="TEE-2").allocated == 2
    tee3.refresh_from_db()
    assert tee3.lines.get().quantity == 3
    assert outcome.state["confirmed"]
    with pytest.raises(FulfillmentError, match="already confirmed"):
        scan(pick_list, user, "A-01")


def test_shipment_with_nothing_picked_stays_on_the_list(pick_list, user):
    tee3 = Shipment.objects.get(lines__order_line__sku="TEE-3")
    scan(pick_list, user, "A-01")
    scan(pick_list, user, "TEE-1")
    scan(pick_list, user, "A-02")
    scan(pick_list, user, "2*TEE-2")
    state = confirm.pick_confirm_state(pick_list_id=pick_list.pk)
    line = line_of(state, "TEE-3")
    confirm.pick_confirm_short(
        pick_list_id=pick_list.pk,
        shipment_id=line["shipment_id"],
        order_line_id=line["order_line"],
        actor=user,
    )

    outcome = confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)

    assert outcome.remainders == [] and outcome.untouched == [tee3.number]
    tee3.refresh_from_db()
    assert tee3.status == ShipmentStatus.PICKING and tee3.lines.get().quantity == 3
    assert Shipment.objects.count() == 2


def test_short_of_a_finished_line_is_refused(pick_list, user):
    scan(pick_list, user, "A-01")
    scan(pick_list, user, "TEE-1")
    line = line_of(confirm.pick_confirm_state(pick_list_id=pick_list.pk), "TEE-1")

    with pytest.raises(FulfillmentError, match="nothing to mark short"):
        confirm.pick_confirm_short(
            pick_list_id=pick_list.pk,
            shipment_id=line["shipment_id"],
            order_line_id=line["order_line"],
            actor=user,
        )


def test_setting_off_leaves_pick_lists_as_they_are(products, stock, picked, user):
    for product in products:
        stock(product, 10)
    wave = picked([[(products[0], 1)]])
    pick_list = wave.pick_lists[0]

    with pytest.raises(FulfillmentError, match="does not confirm picks"):
        scan(pick_list, user, "TEE-1")
    with pytest.raises(FulfillmentError, match="does not confirm picks"):
        confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)
    assert not PickScan.objects.exists()
    assert Shipment.objects.get().status == ShipmentStatus.PICKING


# ---- the admin


@pytest.fixture
def picker(db):
    from django.contrib.auth import get_user_model

    from oms.roles import WAREHOUSE, roles_setup

    user = get_user_model().objects.create_user(
        username="picker", password="x", is_staff=True
    )
    user.groups.add(roles_setup()[WAREHOUSE])
    return user


def call(client, pick_list, name, body):
    return client.post(
        f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/{name}/",
        json.dumps(body),
        content_type="application/json",
    )


def test_pick_list_page_offers_confirmation_with_progress(
    client, picker, pick_list, django_assert_max_num_queries, user, products, picked
):
    client.force_login(picker)
    scan(pick_list, user, "A-01")
    scan(pick_list, user, "TEE-1")
    url = f"/admin/fulfillment/picklist/{pick_list.pk}/change/"
    client.get(url)  # warm caches (permissions, content types)

    with django_assert_max_num_queries(30) as small:
        response = client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    assert "Confirm picks" in content and "1 of 6 units picked" in content
    assert "pick confirmation scans" in content.lower()
    # A list of more lines, with more scans, takes no more queries.
    big = picked([[(products[0], 1)]] * 4 + [[(products[1], 2)]]).pick_lists[0]
    for code in ["A-01", "TEE-1", "TEE-1", "A-02", "2*TEE-2", "MUG-9"]:
        scan(big, user, code)
    big_url = f"/admin/fulfillment/picklist/{big.pk}/change/"
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(big_url)
    assert "4 of 6 units picked" in response.content.decode()


def test_pick_list_without_the_setting_shows_no_confirmation(
    client, picker, products, stock, picked
):
    client.force_login(picker)
    stock(products[0], 5)
    pick_list = picked([[(products[0], 1)]]).pick_lists[0]

    content = client.get(
        f"/admin/fulfillment/picklist/{pick_list.pk}/change/"
    ).content.decode()

    assert "Confirm picks" not in content and "units picked" not in content
    assert "pick confirmation scans" not in content.lower()
    page = client.get(f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/")
    assert page.status_code == 200 and b"does not confirm picks" in page.content
    refused = call(client, pick_list, "scan", {"code": "TEE-1"})
    assert refused.status_code == 400 and "does not confirm" in refused.json()["error"]


def test_endpoints_scan_short_and_finish_as_json(
    client, picker, pick_list, django_assert_max_num_queries
):
    client.force_login(picker)
    page = client.get(f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/")
    assert page.status_code == 200 and b"pickconfirm.js" in page.content

    call(client, pick_list, "scan", {"code": "A-01"})
    with django_assert_max_num_queries(12):
        answer = call(client, pick_list, "scan", {"code": "TEE-1"})
    assert answer.json()["accepted"]
    refused = call(client, pick_list, "scan", {"code": "MUG-9"}).json()
    assert refused["ok"] and not refused["accepted"]
    state = client.get(
        f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/state/"
    ).json()["state"]
    for row in state["lines"][1:]:
        short = call(
            client,
            pick_list,
            "short",
            {"shipment": row["shipment_id"], "order_line": row["order_line"]},
        )
        assert short.json()["ok"]
    finished = call(client, pick_list, "finish", {}).json()
    assert finished["ok"] and finished["state"]["confirmed"]
    garbled = client.post(
        f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/scan/",
        "{not json",
        content_type="application/json",
    )
    assert garbled.status_code == 400
    assert call(client, pick_list, "short", {"shipment": "x"}).status_code == 400
    missing = client.post(
        "/admin/fulfillment/picklist/99999/confirm/scan/",
        "{}",
        content_type="application/json",
    )
    assert missing.status_code == 404


def test_endpoints_keep_csrf(picker, pick_list):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(picker)

    assert call(client, pick_list, "scan", {"code": "A-01"}).status_code == 403
    assert not PickScan.objects.exists()


def test_refused_to_customer_service(client, pick_list):
    from django.contrib.auth import get_user_model

    from oms.roles import CUSTOMER_SERVICE, roles_setup

    user = get_user_model().objects.create_user(username="cs", is_staff=True)
    user.groups.add(roles_setup()[CUSTOMER_SERVICE])
    client.force_login(user)

    assert call(client, pick_list, "scan", {"code": "A-01"}).status_code == 403
    assert PickList.objects.count() == 1


def test_confirmed_pick_list_reads_picked_in_its_list(client, picker, pick_list, user):
    for code in ("A-01", "TEE-1", "A-02", "2*TEE-2", "B-01", "3*TEE-3"):
        assert scan(pick_list, user, code).accepted, code
    client.force_login(picker)

    confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)

    pick_list.refresh_from_db()
    assert pick_list.status == PickList.Status.PICKED
    page = client.get("/admin/fulfillment/picklist/").content.decode()
    assert '<span class="oms-status oms-status-picked">Picked</span>' in page


def test_picked_list_is_done_once_its_shipments_are_packed(pick_list, user):
    for code in ("A-01", "TEE-1", "A-02", "2*TEE-2", "B-01", "3*TEE-3"):
        scan(pick_list, user, code)
    confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)
    Shipment.objects.filter(pick_list=pick_list).update(status=ShipmentStatus.PACKED)

    picking.pick_list_refresh(pick_list_id=pick_list.pk)

    pick_list.refresh_from_db()
    assert pick_list.status == PickList.Status.DONE
