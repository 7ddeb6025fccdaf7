"""The order API's create path: a request checks the order and stores it
with its answer (a few statements, no transaction, whatever its lines); the
worker writes the waiting orders in batches and reserves their stock. The
key and the products are read on every request (a revoked key or a changed
product counts at once); the rate limit is one count in the shared cache."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.api import auth, intake
from connections.inbox import allocating, draining, replay, waking
from connections.models import InboundMessage
from connections.services.api_keys import (
    channel_api_key_create,
    channel_api_key_revoke,
)
from core.sequences import format_number, sequence_relation
from inventory.models import Allocation
from orders.models import Order, OrderEvent, OrderStatus
from tests import factories
from tests.connections.test_api_views import order_body

# Statements of a request taking one new order in: key, the rate limit's
# count in the shared cache (on PostgreSQL's one upsert; on Redis none),
# products, order-or-message with the number, message.
# Was 23 with the order written in the request, 41 with its stock reserved
# there too.
MAX_STATEMENTS = 6


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


@pytest.fixture
def database_queue(settings):
    """Tasks queued for the worker, as in production."""
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_INBOX_WAKE_SECONDS = 60
    waking.wakes_forget()
    yield
    waking.wakes_forget()


@pytest.fixture(autouse=True)
def _rate(monkeypatch):
    monkeypatch.setattr(
        auth.ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000/minute"}
    )


def lines(skus, count):
    return [{"sku": sku, "quantity": 2, "unit_price": "5.00"} for sku in skus[:count]]


def post(client, key, body, **headers):
    return client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", **headers},
    )


def statement(sql: str) -> str:
    """The statement without the field-history context pghistory puts before
    it in a request (`SELECT set_config('pghistory…', …); `)."""
    if sql.startswith("SELECT set_config('pghistory."):
        return sql.split("; ", 1)[-1]
    return sql


def statements(captured) -> list[str]:
    return [
        statement(q["sql"])
        for q in captured
        if not statement(q["sql"]).startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_create_costs_the_same_few_statements_whatever_its_lines(
    client, api_key, skus, database_queue
):
    post(client, api_key, order_body("WARM", lines=lines(skus, 1)))  # wake queued
    counts = {}
    for count in (1, 3, 5):
        with CaptureQueriesContext(connection) as ctx:
            response = post(
                client, api_key, order_body(f"N-{count}", lines=lines(skus, count))
            )
        assert response.status_code == 201, response.json()
        assert len(response.json()["lines"]) == count
        counts[count] = len(ctx.captured_queries)
        # No transaction: nothing held while the client waits.
        assert not [q for q in ctx.captured_queries if "SAVEPOINT" in q["sql"]], (
            ctx.captured_queries
        )
    assert counts[1] == counts[3] == counts[5] <= MAX_STATEMENTS, counts


def test_create_reads_key_counts_reads_products_and_order_writes_one_row(
    client, api_key, skus, database_queue
):
    post(client, api_key, order_body("WARM", lines=lines(skus, 3)))

    with CaptureQueriesContext(connection) as ctx:
        response = post(client, api_key, order_body("Q-1", lines=lines(skus, 3)))

    assert response.status_code == 201
    assert [line["sku"] for line in response.json()["lines"]] == skus[:3]
    sql = statements(ctx.captured_queries)
    assert len(sql) == 5, sql
    assert '"orders_channelapikey"' in sql[0]
    # The rate limit: one upsert adds one to the count.
    assert sql[1].strip().startswith("INSERT INTO core_ratewindow")
    assert '"inventory_product"' in sql[2]
    # The look-ups and the number in one statement.
    assert '"orders_order"' in sql[3] and '"orders_inboundmessage"' in sql[3]
    assert "nextval('number_order'" in sql[3]
    assert sql[4].startswith('INSERT INTO "orders_inboundmessage"')
    assert not Order.objects.filter(external_id="Q-1").exists()  # the worker's


def test_a_product_changed_counts_on_the_next_request(client, api_key, skus, product):
    assert (
        post(client, api_key, order_body("P-1", lines=lines(skus, 1))).status_code
        == 201
    )
    unknown = [{"sku": "NEW-SKU", "quantity": 1, "unit_price": "1.00"}]
    assert post(client, api_key, order_body("P-2", lines=unknown)).status_code == 422

    # Nothing kept: a product added, or one whose SKU changed, counts at once.
    factories.ProductFactory(sku="NEW-SKU")
    type(product).objects.filter(pk=product.pk).update(sku="RENAMED")
    assert post(client, api_key, order_body("P-3", lines=unknown)).status_code == 201
    old = post(client, api_key, order_body("P-4", lines=lines(skus, 1)))
    assert old.status_code == 422
    assert skus[0] in str(old.json())


def test_create_query_bound_with_savepoints(
    client, api_key, skus, django_assert_max_num_queries
):
    post(client, api_key, order_body("WARM", lines=lines(skus, 1)))
    # With the immediate task backend (tests, development) the worker's part
    # runs in the request: the order written alone, set-based.
    with django_assert_max_num_queries(60):
        response = post(client, api_key, order_body("B-1", lines=lines(skus, 3)))
    assert response.status_code == 201


def _as_taken(answer: dict) -> dict:
    """An answer without what the worker changes (status, reservations)."""
    return {
        **{k: v for k, v in answer.items() if k not in ("status", "status_text")},
        "lines": [
            {k: v for k, v in line.items() if k != "allocated"}
            for line in answer["lines"]
        ],
    }


def test_answer_is_what_a_read_of_the_order_gives(
    client, api_key, skus, database_queue
):
    created = post(client, api_key, order_body("R-1", lines=lines(skus, 3)))
    waiting = client.get(
        "/api/v1/orders/R-1", headers={"Authorization": f"Bearer {api_key}"}
    )

    # Taken in: answered, stored, and waiting for the worker.
    assert created.status_code == 201 and waiting.status_code == 200
    assert created.json() == waiting.json()
    assert created.json()["status"] == OrderStatus.PENDING
    assert [line["allocated"] for line in created.json()["lines"]] == [0, 0, 0]
    message = InboundMessage.objects.get(external_id="R-1")
    assert (message.status, message.order_id, message.response_status) == (
        "received",
        None,
        201,
    )
    assert message.response == created.json()
    assert not Order.objects.filter(external_id="R-1").exists()

    assert draining.inbound_drain() == 1  # the worker

    order = Order.objects.get(external_id="R-1")
    read = client.get(
        "/api/v1/orders/R-1", headers={"Authorization": f"Bearer {api_key}"}
    ).json()
    assert order.status == OrderStatus.ALLOCATED
    assert order.number == created.json()["number"]
    assert _as_taken(read) == _as_taken(created.json())
    message.refresh_from_db()
    assert (message.status, message.order_id) == ("processed", order.pk)
    assert set(
        OrderEvent.objects.filter(order=order).values_list("kind", flat=True)
    ) >= {"placed", "allocated"}


def test_repeat_answers_200_with_the_same_order(client, api_key, skus, database_queue):
    first = post(client, api_key, order_body("D-1", lines=lines(skus, 2)))
    waiting = post(client, api_key, order_body("D-1", lines=lines(skus, 2)))
    draining.inbound_drain()
    written = post(client, api_key, order_body("D-1", lines=lines(skus, 2)))

    assert (first.status_code, waiting.status_code, written.status_code) == (
        201,
        200,
        200,
    )
    assert waiting.json() == first.json()
    assert _as_taken(written.json()) == _as_taken(first.json())
    assert Order.objects.filter(external_id="D-1").count() == 1
    statuses = InboundMessage.objects.order_by("pk").values_list("status", flat=True)
    assert list(statuses) == ["processed", "duplicate", "duplicate"]


def test_revoked_key_is_refused_on_the_next_request(client, key_pair, skus):
    row, api_key = key_pair
    assert (
        post(client, api_key, order_body("V-1", lines=lines(skus, 1))).status_code
        == 201
    )
    channel_api_key_revoke(api_key=row)

    response = post(client, api_key, order_body("V-2", lines=lines(skus, 1)))

    assert response.status_code == 401
    assert not Order.objects.filter(external_id="V-2").exists()


def test_a_deactivated_channel_is_refused_on_the_next_request(
    client, api_key, skus, channel
):
    assert (
        post(client, api_key, order_body("A-1", lines=lines(skus, 1))).status_code
        == 201
    )
    type(channel).objects.filter(pk=channel.pk).update(active=False)

    assert (
        post(client, api_key, order_body("A-2", lines=lines(skus, 1))).status_code
        == 401
    )


def test_rate_limit_counts_each_request_in_the_shared_count(client, key_pair, skus):
    from core.models import RateWindow

    row, api_key = key_pair
    for n in range(3):
        response = post(client, api_key, order_body(f"T-{n}", lines=lines(skus, 1)))
        assert response.status_code == 201

    window = RateWindow.objects.get(key=auth.api_key_rate_key(row.pk))
    assert window.count == 3


def test_worker_writes_the_waiting_orders_in_one_batch(
    client, api_key, skus, database_queue
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    for n in range(3):
        post(client, api_key, order_body(f"W-{n}", lines=lines(skus, 2)))

    [wake] = ProcrastinateJob.objects.filter(task_name__endswith="inbound_drain_task")
    assert wake.scheduled_at is not None
    assert not Order.objects.exists()

    with CaptureQueriesContext(connection) as ctx:
        assert draining.inbound_drain() == 3

    assert set(Order.objects.values_list("status", flat=True)) == {"allocated"}
    # One INSERT of orders for the batch, not one per order.
    orders_inserts = [
        q
        for q in ctx.captured_queries
        if statement(q["sql"]).startswith('INSERT INTO "orders_order" ')
    ]
    assert len(orders_inserts) == 1
    assert draining.inbound_drain() == 0


def test_cancel_before_the_worker_writes_the_order(
    client, api_key, skus, database_queue, channel
):
    post(client, api_key, order_body("C-1", lines=lines(skus, 1)))
    post(client, api_key, order_body("C-2", lines=lines(skus, 1)))
    cancelled = client.post(
        "/api/v1/orders/C-1/cancel",
        {},
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    staff_pending = factories.OrderFactory(channel=channel)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == OrderStatus.CANCELLED
    assert draining.inbound_drain() == 1
    assert allocating.inbound_allocate() == {}

    statuses = dict(Order.objects.values_list("external_id", "status"))
    assert statuses["C-1"] == OrderStatus.CANCELLED
    assert statuses["C-2"] == OrderStatus.ALLOCATED
    assert statuses[staff_pending.external_id] == OrderStatus.PENDING
    assert not Allocation.objects.filter(order_line__order__external_id="C-1")


def test_sweep_writes_api_orders_whose_drain_was_lost(
    client, api_key, skus, database_queue, settings
):
    post(client, api_key, order_body("L-1", lines=lines(skus, 1)))
    post(client, api_key, order_body("L-2", lines=lines(skus, 1)))
    InboundMessage.objects.filter(external_id="L-1").update(
        received_at=timezone.now()
        - timedelta(seconds=settings.OMS_INBOX_SWEEP_AFTER_SECONDS + 1)
    )

    replay.inbound_sweep()

    statuses = dict(Order.objects.values_list("external_id", "status"))
    assert statuses == {"L-1": OrderStatus.ALLOCATED}
    waiting = client.get(
        "/api/v1/orders/L-2", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert waiting.json()["status"] == OrderStatus.PENDING


def test_worker_killed_mid_batch_loses_nothing(
    client, api_key, skus, database_queue, monkeypatch
):
    answers = [
        post(client, api_key, order_body(f"K-{n}", lines=lines(skus, 1))).json()
        for n in range(3)
    ]

    def killed(point):
        raise KeyboardInterrupt(point)  # as SIGKILL: nothing after it runs

    monkeypatch.setattr(draining, "fault_pause", killed)
    with pytest.raises(KeyboardInterrupt):
        draining.inbound_drain()
    monkeypatch.undo()

    assert not Order.objects.exists()
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"received"}
    assert draining.inbound_drain() == 3
    numbers = dict(Order.objects.values_list("external_id", "number"))
    assert numbers == {answer["external_id"]: answer["number"] for answer in answers}


def test_numbers_are_not_used_up_by_refused_or_repeated_orders(
    client, api_key, skus, database_queue
):
    first = post(client, api_key, order_body("N-1", lines=lines(skus, 1))).json()
    unknown = [{"sku": "NO-SUCH-SKU", "quantity": 1, "unit_price": "1.00"}]
    assert post(client, api_key, order_body("N-2", lines=unknown)).status_code == 422
    assert post(client, api_key, order_body("N-3", lines=[])).status_code == 422
    # Sent again while it waits for the worker, and once it is written.
    assert (
        post(client, api_key, order_body("N-1", lines=lines(skus, 1))).status_code
        == 200
    )
    draining.inbound_drain()
    assert (
        post(client, api_key, order_body("N-1", lines=lines(skus, 1))).status_code
        == 200
    )

    second = post(client, api_key, order_body("N-4", lines=lines(skus, 1))).json()

    assert int(second["number"][3:]) == int(first["number"][3:]) + 1


def test_number_is_reserved_outside_any_transaction(
    client, api_key, skus, database_queue
):
    post(client, api_key, order_body("WARM", lines=lines(skus, 1)))

    with CaptureQueriesContext(connection) as ctx:
        taken = post(client, api_key, order_body("S-1", lines=lines(skus, 1))).json()

    sql = [statement(q["sql"]) for q in ctx.captured_queries]
    counter = next(n for n, q in enumerate(sql) if "nextval" in q)
    stored = next(
        n for n, q in enumerate(sql) if q.startswith('INSERT INTO "orders_inb')
    )
    # Drawn from the sequence in a statement of its own, then the message
    # stored in one more, outside any transaction.
    assert counter < stored
    assert not any(q.startswith(("SAVEPOINT", "BEGIN")) for q in sql)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {sequence_relation('order')}")
        assert taken["number"] == format_number("SO", cursor.fetchone()[0])
    draining.inbound_drain()
    assert Order.objects.get(external_id="S-1").number == taken["number"]


def test_same_order_sent_twice_at_once_is_taken_in_once(
    client, api_key, skus, database_queue, monkeypatch
):
    from connections.api import views

    check = intake.inbound_api_check
    raced = {}

    def check_then_race(**kwargs):
        checked = check(**kwargs)
        if not raced:
            # Another request takes the same order in after this one checked.
            raced["started"] = True
            raced["answer"] = post(
                client, api_key, order_body("RACE-1", lines=lines(skus, 1))
            )
        return checked

    monkeypatch.setattr(views, "inbound_api_check", check_then_race)

    response = post(client, api_key, order_body("RACE-1", lines=lines(skus, 1)))

    assert raced["answer"].status_code == 201
    assert response.status_code == 200
    assert response.json() == raced["answer"].json()
    assert InboundMessage.objects.filter(external_id="RACE-1").count() == 1
    draining.inbound_drain()
    [order] = Order.objects.filter(external_id="RACE-1")
    assert order.number == response.json()["number"]
