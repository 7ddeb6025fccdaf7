"""Pick confirmation under real concurrency (PostgreSQL, OS processes):
racing scans on one pick list never pick more than a line needs."""

import pytest
from django.db import connections

from fulfillment.models import PickScan
from fulfillment.services import pickconfirm as confirm
from inventory.models import StockLevel
from tests import factories
from tests.support.races import race

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = 5
RACERS = 8


@pytest.fixture
def pick_list(stock, picked, location):
    location.confirm_picks = True
    location.save()
    product = factories.ProductFactory(sku="TEE-1", barcode="4000000000017")
    stock(product, 20)
    StockLevel.objects.filter(product=product).update(bin="A-01")
    return picked([[(product, EXPECTED)]]).pick_lists[0]


def _scan(barrier, pick_list_id: int, user_id: int) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    barrier.wait()
    outcome = confirm.pick_confirm_scan(
        pick_list_id=pick_list_id, code="TEE-1", actor=user
    )
    connections.close_all()
    return "accepted" if outcome.accepted else "refused"


def test_racing_scans_never_pick_past_the_expected_quantity(pick_list, user):
    confirm.pick_confirm_scan(pick_list_id=pick_list.pk, code="A-01", actor=user)

    results = race(_scan, [(pick_list.pk, user.pk)] * RACERS)

    assert results.count("accepted") == EXPECTED
    assert results.count("refused") == RACERS - EXPECTED
    accepted = PickScan.objects.filter(pick_list=pick_list, kind="item", accepted=True)
    assert sum(scan.quantity for scan in accepted) == EXPECTED


# ---- confirming, scanning and marking short at once on one pick list

ROUNDS = 3
FINISHERS, SCANNERS, SHORTERS = 3, 3, 2


def _work(barrier, action: str, pick_list_id: int, user_id: int, line) -> str:
    from django.contrib.auth import get_user_model

    from fulfillment.exceptions import FulfillmentError

    user = get_user_model().objects.get(pk=user_id)
    barrier.wait()
    try:
        if action == "finish":
            confirm.pick_confirm_finish(pick_list_id=pick_list_id, actor=user)
            return "finish: confirmed"
        if action == "scan":
            outcome = confirm.pick_confirm_scan(
                pick_list_id=pick_list_id, code="MUG-1", actor=user
            )
            return "scan: " + ("accepted" if outcome.accepted else "refused")
        confirm.pick_confirm_short(
            pick_list_id=pick_list_id,
            shipment_id=line[0],
            order_line_id=line[1],
            actor=user,
        )
        return "short: marked"
    except FulfillmentError as error:
        return f"{action}: {error}"
    finally:
        connections.close_all()


@pytest.fixture
def nearly_picked(stock, picked, location, user):
    """A pick list of three orders (2 tees and a mug each), everything picked
    but the last order's mug: make() returns (pick list, its open line)."""
    location.confirm_picks = True
    location.save()
    tee = factories.ProductFactory(sku="TEE-1", barcode="4000000000017")
    mug = factories.ProductFactory(sku="MUG-1", barcode="4000000000024")

    def make():
        stock(tee, 6)
        stock(mug, 3)
        StockLevel.objects.filter(product=tee).update(bin="A-01")
        StockLevel.objects.filter(product=mug).update(bin="B-01")
        pick_list = picked([[(tee, 2), (mug, 1)]] * 3).pick_lists[0]
        for code in ["A-01", "2*TEE-1", "2*TEE-1", "2*TEE-1", "B-01"]:
            confirm.pick_confirm_scan(pick_list_id=pick_list.pk, code=code, actor=user)
        state = confirm.pick_confirm_state(pick_list_id=pick_list.pk)
        mugs = [row for row in state["lines"] if row["sku"] == "MUG-1"]
        for _ in mugs[:-1]:
            confirm.pick_confirm_scan(
                pick_list_id=pick_list.pk, code="MUG-1", actor=user
            )
        last = confirm.pick_confirm_state(pick_list_id=pick_list.pk)["current"]
        shipment_id, order_line_id = (int(part) for part in last.split("-"))
        return pick_list, (shipment_id, order_line_id)

    return make


def test_confirm_scans_and_shorts_at_once_never_deadlock(nearly_picked, user):
    from fulfillment.models import Shipment, ShipmentLine

    for _ in range(ROUNDS):
        pick_list, open_line = nearly_picked()
        work = (
            [("finish", pick_list.pk, user.pk, None)] * FINISHERS
            + [("scan", pick_list.pk, user.pk, None)] * SCANNERS
            + [("short", pick_list.pk, user.pk, open_line)] * SHORTERS
        )

        answers = race(_work, work, timeout=120)

        assert not [a for a in answers if a.startswith("error")], answers
        assert answers.count("finish: confirmed") <= 1, answers
        # The one open unit was either picked or marked short, never both.
        resolved = answers.count("scan: accepted") + answers.count("short: marked")
        assert resolved <= 1, answers
        if "finish: confirmed" not in answers:
            if not resolved:
                confirm.pick_confirm_short(
                    pick_list_id=pick_list.pk,
                    shipment_id=open_line[0],
                    order_line_id=open_line[1],
                    actor=user,
                )
            confirm.pick_confirm_finish(pick_list_id=pick_list.pk, actor=user)
        confirms = PickScan.objects.filter(pick_list=pick_list, kind="confirm")
        assert confirms.count() == 1
        short = PickScan.objects.filter(
            pick_list=pick_list, kind="short", order_line_id=open_line[1]
        ).exists()
        open_shipment = Shipment.objects.get(pk=open_line[0])
        remainders = Shipment.objects.filter(
            order_id=open_shipment.order_id, pick_list=None, status="pending"
        )
        # A short mug waits, reserved, in one new shipment; a picked one
        # leaves with its shipment.
        assert remainders.count() == (1 if short else 0)
        lines = ShipmentLine.objects.filter(shipment__order_id=open_shipment.order_id)
        assert sum(line.quantity for line in lines) == 3
