"""A database that cannot finish a request (here: a lock waited for past
`lock_timeout`, held by another connection as a long transaction would)
answers "try again" — JSON 503 with Retry-After for the scanner endpoints and
the API, back to the page with a message for an admin form, a 503 page for
anything else — never a 500; and the same request succeeds once it can."""

import json

import pytest
from django.db.utils import OperationalError

from connections.services.api_keys import channel_api_key_create
from core.middleware import RETRY_AFTER_SECONDS, TryAgainMiddleware
from fulfillment.models import PickList, PickScan, Shipment
from inventory.models import StockLevel
from orders.models import Order
from tests import factories
from tests.support.database import lock_timeout, table_held

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_MS = 300


@pytest.fixture
def warehouse_user(db):
    from django.contrib.auth import get_user_model

    from oms.roles import WAREHOUSE, roles_setup

    user = get_user_model().objects.create_user(
        username="picker", password="x", is_staff=True
    )
    user.groups.add(roles_setup()[WAREHOUSE])
    return user


@pytest.fixture
def pick_list(stock, picked, location):
    location.confirm_picks = True
    location.save()
    product = factories.ProductFactory(sku="TEE-1", barcode="4000000000017")
    stock(product, 5)
    StockLevel.objects.filter(product=product).update(bin="A-01")
    return picked([[(product, 2)]]).pick_lists[0]


def scan(client, pick_list, code):
    return client.post(
        f"/admin/fulfillment/picklist/{pick_list.pk}/confirm/scan/",
        json.dumps({"code": code}),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )


def assert_try_again_json(response):
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["ok"] is False and body["retry"] is True
    assert body["retry_after"] == RETRY_AFTER_SECONDS
    assert "Try again in a moment" in body["error"]


def test_pick_scan_the_database_cannot_finish_answers_json_503(
    client, warehouse_user, pick_list
):
    client.force_login(warehouse_user)

    with lock_timeout(WAIT_MS), table_held(PickList):
        busy = scan(client, pick_list, "A-01")

    assert_try_again_json(busy)
    assert not PickScan.objects.filter(pick_list=pick_list).exists()
    again = scan(client, pick_list, "A-01")
    assert again.status_code == 200 and again.json()["accepted"]


def test_pack_station_scan_the_database_cannot_finish_answers_json_503(
    client, warehouse_user, pick_list
):
    client.force_login(warehouse_user)
    shipment = Shipment.objects.get(pick_list=pick_list)

    with lock_timeout(WAIT_MS), table_held(Shipment):
        busy = client.post(
            "/admin/fulfillment/packclaim/open/",
            json.dumps({"station": "st-here", "code": shipment.number}),
            content_type="application/json",
        )

    assert_try_again_json(busy)


def test_api_request_the_database_cannot_finish_answers_json_503(
    client, channel, pick_list
):
    key = channel_api_key_create(channel=channel, name="shop")[1]
    order = Order.objects.get(shipments__pick_list=pick_list)

    with lock_timeout(WAIT_MS), table_held(Order):
        busy = client.get(
            f"/api/v1/orders/{order.external_id}",
            headers={"Authorization": f"Bearer {key}"},
        )

    assert_try_again_json(busy)


def test_admin_form_the_database_cannot_finish_goes_back_with_a_message(
    admin_client, pick_list
):
    order = Order.objects.get(shipments__pick_list=pick_list)
    page = f"/admin/orders/order/{order.pk}/change/"

    with lock_timeout(WAIT_MS), table_held(Order):
        busy = admin_client.post(
            page,
            {"note": "call first"},
            headers={"Referer": f"http://testserver{page}"},
        )

    assert busy.status_code == 302 and busy["Location"] == f"http://testserver{page}"
    shown = admin_client.get(busy["Location"])
    assert shown.status_code == 200
    assert "Try again in a moment" in shown.content.decode()


def test_admin_page_the_database_cannot_finish_is_a_503_page(admin_client, pick_list):
    with lock_timeout(WAIT_MS), table_held(Order):
        busy = admin_client.get("/admin/orders/order/")

    assert busy.status_code == 503
    assert busy["Retry-After"] == str(RETRY_AFTER_SECONDS)
    text = busy.content.decode()
    assert "Try again in a moment" in text
    assert 'href="/admin/orders/order/"' in text


def test_other_errors_are_left_to_django(rf):
    middleware = TryAgainMiddleware(lambda request: None)
    request = rf.get("/admin/")

    assert middleware.process_exception(request, ValueError("bug")) is None
    assert middleware.process_exception(request, OperationalError("gone")) is not None
