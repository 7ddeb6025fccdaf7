"""The order API's create path: a small, fixed number of statements per
order whatever its lines, the key looked up once per few seconds, the rate
limit one cache operation, the answer built from what was written."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oms.api import auth
from orders.models import InboundMessage, Order, OrderEvent, OrderStatus
from orders.services.api_keys import channel_api_key_create, channel_api_key_revoke
from tests import factories
from tests.test_api import order_body

# Statements for one new order besides savepoints, the key looked up
# (measured 41 on SQLite; was 36 + 8 per extra line through `order_create`).
MAX_STATEMENTS = 42


@pytest.fixture
def key_pair(channel):
    return channel_api_key_create(channel=channel, name="shop")


@pytest.fixture
def api_key(key_pair):
    return key_pair[1]


@pytest.fixture
def skus(stock, product):
    products = [product, *(factories.ProductFactory(sku=f"SPD-{n}") for n in range(4))]
    for each in products:
        stock(each, 50)
    return [each.sku for each in products]


@pytest.fixture(autouse=True)
def _no_kept_keys(monkeypatch):
    monkeypatch.setattr(
        auth.ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000/minute"}
    )
    auth._keys.clear()
    yield
    auth._keys.clear()


def lines(skus, count):
    return [{"sku": sku, "quantity": 2, "unit_price": "5.00"} for sku in skus[:count]]


def post(client, key, body, **headers):
    return client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", **headers},
    )


def statements(captured) -> list[str]:
    return [
        q["sql"]
        for q in captured
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_create_costs_the_same_few_statements_whatever_its_lines(client, api_key, skus):
    post(client, api_key, order_body("WARM", lines=lines(skus, 1)))  # customer made
    counts = {}
    for count in (1, 3, 5):
        with CaptureQueriesContext(connection) as ctx:
            response = post(
                client, api_key, order_body(f"N-{count}", lines=lines(skus, count))
            )
        assert response.status_code == 201, response.json()
        assert len(response.json()["lines"]) == count
        counts[count] = len(statements(ctx.captured_queries))
    assert counts[1] == counts[3] == counts[5] <= MAX_STATEMENTS, counts


def test_create_query_bound_with_savepoints(
    client, api_key, skus, django_assert_max_num_queries
):
    post(client, api_key, order_body("WARM", lines=lines(skus, 1)))
    with django_assert_max_num_queries(MAX_STATEMENTS + 30):
        response = post(client, api_key, order_body("B-1", lines=lines(skus, 3)))
    assert response.status_code == 201


def test_answer_is_what_a_read_of_the_order_gives(client, api_key, skus):
    created = post(client, api_key, order_body("R-1", lines=lines(skus, 3)))

    read = client.get(
        "/api/v1/orders/R-1", headers={"Authorization": f"Bearer {api_key}"}
    )

    assert created.status_code == 201 and read.status_code == 200
    assert created.json() == read.json()
    assert [line["allocated"] for line in created.json()["lines"]] == [2, 2, 2]
    order = Order.objects.get(external_id="R-1")
    assert order.status == OrderStatus.ALLOCATED
    assert created.json()["number"] == order.number
    message = InboundMessage.objects.get(external_id="R-1")
    assert (message.status, message.order_id, message.response_status) == (
        "processed",
        order.pk,
        201,
    )
    assert message.response == created.json()
    assert set(
        OrderEvent.objects.filter(order=order).values_list("kind", flat=True)
    ) >= {"placed", "allocated"}


def test_repeat_answers_200_with_the_same_order(client, api_key, skus):
    first = post(client, api_key, order_body("D-1", lines=lines(skus, 2)))
    again = post(client, api_key, order_body("D-1", lines=lines(skus, 2)))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.filter(external_id="D-1").count() == 1


def test_key_is_looked_up_once_per_few_seconds(client, key_pair, skus, settings):
    settings.OMS_INTAKE_CHANNEL_CACHE_SECONDS = 60
    api_key = key_pair[1]
    post(client, api_key, order_body("K-1", lines=lines(skus, 1)))

    with CaptureQueriesContext(connection) as ctx:
        response = post(client, api_key, order_body("K-2", lines=lines(skus, 1)))

    assert response.status_code == 201
    assert not [q for q in statements(ctx.captured_queries) if "channelapikey" in q]
    assert all(len(digest) == 64 and api_key not in digest for digest in auth._keys)


def test_revoked_key_is_refused_once_the_kept_copy_expires(
    client, key_pair, skus, settings
):
    settings.OMS_INTAKE_CHANNEL_CACHE_SECONDS = 60
    row, api_key = key_pair
    assert (
        post(client, api_key, order_body("V-1", lines=lines(skus, 1))).status_code
        == 201
    )
    channel_api_key_revoke(api_key=row)
    auth._keys.clear()  # as if the few seconds had passed

    response = post(client, api_key, order_body("V-2", lines=lines(skus, 1)))

    assert response.status_code == 401
    assert not Order.objects.filter(external_id="V-2").exists()


def test_unknown_keys_are_not_kept(client, skus, settings):
    settings.OMS_INTAKE_CHANNEL_CACHE_SECONDS = 60
    for n in range(3):
        response = post(client, f"oms_abc{n}_nope", order_body("U-1"))
        assert response.status_code == 401
    assert auth._keys == {}


class CountingCache:
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_rate_limit_is_one_cache_operation_per_request(
    client, api_key, skus, monkeypatch
):
    counting = CountingCache(cache)
    monkeypatch.setattr(auth.ApiKeyRateThrottle, "cache", counting)
    post(client, api_key, order_body("T-1", lines=lines(skus, 1)))  # opens the window
    counting.calls.clear()

    for n in range(3):
        assert (
            post(
                client, api_key, order_body(f"T-{n + 2}", lines=lines(skus, 1))
            ).status_code
            == 201
        )

    assert counting.calls == ["incr"] * 3
