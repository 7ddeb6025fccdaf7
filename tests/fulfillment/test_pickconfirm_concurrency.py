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
