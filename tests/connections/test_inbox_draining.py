"""The inbox at speed: a webhook acknowledged by one INSERT, the worker
draining the inbox in batches (set-based order intake), Shopify updates in
`updated_at` order, line edits refused."""

import json

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from connections.inbox import draining, replay, waking
from connections.inbox.draining import inbound_drain
from connections.inbox.storing import inbound_store
from connections.models import InboundMessage
from orders.models import (
    Channel,
    Order,
    OrderEvent,
    OrderStatus,
)
from tests import factories
from tests.connections.test_api_intake_speed import statement
from tests.connections.test_inbox_webhooks import post_shopify, shopify_order, sign
from tests.support.emails import customer_emails

pytestmark = pytest.mark.django_db
Status = InboundMessage.Status


@pytest.fixture
def shop(db, product, stock):
    stock(product, 1000)
    return factories.ChannelFactory(
        code="shopify-us",
        name="Shopify US",
        platform="shopify",
        inbound_secret="shpss_0123456789abcdef",
    )


@pytest.fixture
def database_queue(settings):
    """Webhooks only stored (as in production): the worker drains them."""
    settings.OMS_TASKS_BACKEND = "database"
    settings.OMS_INBOX_WAKE_SECONDS = 60
    waking.wakes_forget()
    yield
    waking.wakes_forget()


def store(shop, resource, *, delivery, topic="orders/create"):
    message, new = inbound_store(
        channel=shop,
        source=InboundMessage.Source.SHOPIFY,
        topic=topic,
        delivery_id=delivery,
        body=json.dumps(resource).encode(),
        external_id=resource["name"],  # as the webhook view reads it
    )
    return message, new


def test_webhook_acknowledged_by_the_channel_read_and_one_insert(
    client, shop, database_queue
):
    post_shopify(client, shopify_order("#1"), delivery="d-0")  # wakes

    with CaptureQueriesContext(connection) as queries:
        response = post_shopify(client, shopify_order("#2"), delivery="d-1")

    assert response.status_code == 200 and response.json()["duplicate"] is False
    # The channel is read each time (a changed secret counts at once).
    [read, insert] = queries.captured_queries
    assert statement(read["sql"]).startswith('SELECT "orders_channel"')
    assert statement(insert["sql"]).startswith('INSERT INTO "orders_inboundmessage"')
    assert "ON CONFLICT DO NOTHING" in insert["sql"]
    assert InboundMessage.objects.filter(status=Status.RECEIVED).count() == 2


def test_repeated_delivery_is_the_insert_and_a_lookup(client, shop, database_queue):
    post_shopify(client, shopify_order("#1"), delivery="d-1")

    with CaptureQueriesContext(connection) as queries:
        response = post_shopify(client, shopify_order("#1"), delivery="d-1")

    assert response.json()["duplicate"] is True
    # The channel, the insert, the lookup of the message that holds it.
    assert len(queries.captured_queries) == 3
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_webhook_skips_the_health_check_round_trip(
    client, shop, database_queue, monkeypatch
):
    """A kept connection is checked by the acknowledgement's first statement
    (the channel's read, which may run twice), not by a `SELECT 1` before it:
    a message without a delivery id (whose INSERT could not be repeated) is
    then stored on a connection that has just answered too."""
    post_shopify(client, shopify_order("#1"), delivery="d-1")  # connects
    checks = []
    wrapper = connections["default"]
    monkeypatch.setattr(
        type(wrapper), "is_usable", lambda self: checks.append(1) or True
    )

    wrapper.health_check_done = False  # as at the start of every request
    response = post_shopify(client, shopify_order("#2"), delivery="d-2")
    assert response.status_code == 200 and checks == []

    wrapper.health_check_done = False
    response = post_shopify(client, shopify_order("#3"), delivery="")
    assert response.status_code == 200 and checks == []
    assert InboundMessage.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_webhook_on_a_connection_cut_while_idle_is_stored(client, shop, database_queue):
    post_shopify(client, shopify_order("#1"), delivery="d-1")
    wrapper = connections["default"]
    cut = wrapper.connection
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # waits until the backend has gone
            cursor.execute(
                "SELECT pg_terminate_backend(%s, 10000)", [cut.info.backend_pid]
            )
    finally:
        other.close()
    wrapper.health_check_done = False  # a new request on the kept connection

    response = post_shopify(client, shopify_order("#2"), delivery="d-2")

    assert response.status_code == 200 and response.json()["duplicate"] is False
    assert wrapper.connection is not cut
    assert InboundMessage.objects.filter(delivery_id="d-2").count() == 1


def test_changed_secret_takes_effect_on_the_next_delivery(client, shop, database_queue):
    assert post_shopify(client, shopify_order("#1"), delivery="d-1").status_code == 200
    Channel.objects.filter(pk=shop.pk).update(inbound_secret="shpss_new")

    assert post_shopify(client, shopify_order("#3"), delivery="d-3").status_code == 401
    body = json.dumps(shopify_order("#3")).encode()
    response = post_shopify(
        client, shopify_order("#3"), delivery="d-3", signature=sign(body, "shpss_new")
    )
    assert response.status_code == 200


def test_first_webhook_wakes_one_delayed_drain(client, shop, database_queue):
    from procrastinate.contrib.django.models import ProcrastinateJob

    for n in range(5):
        post_shopify(client, shopify_order(f"#{n}"), delivery=f"d-{n}")

    [drain] = ProcrastinateJob.objects.all()
    assert drain.task_name == "connections.inbox.draining.inbound_drain_task"
    assert drain.scheduled_at is not None


def test_drain_costs_a_savepoint_per_message_and_no_more(shop, database_queue):
    def drained(count, start):
        for n in range(start, start + count):
            resource = shopify_order(f"#{n}", email=f"c{n}@example.com")
            store(shop, resource, delivery=f"{n}")
        with CaptureQueriesContext(connection) as queries:
            assert inbound_drain() == count
        return len(queries.captured_queries)

    few, many = drained(3, 0), drained(30, 100)

    # Each message is applied inside a savepoint (two statements); the orders,
    # lines, timeline, customers and allocation are written for the batch.
    assert many - few <= 2 * 27, (few, many)
    assert Order.objects.count() == 33
    assert not InboundMessage.objects.exclude(status=Status.PROCESSED).exists()
    assert set(Order.objects.values_list("status", flat=True)) == {"allocated"}


def test_drained_orders_are_taken_in_like_single_ones(shop, database_queue, settings):
    store(shop, shopify_order("#1"), delivery="batch")
    inbound_drain()
    settings.OMS_TASKS_BACKEND = "immediate"
    store(shop, shopify_order("#2"), delivery="single")

    batch, single = Order.objects.order_by("external_id")
    assert (batch.status, single.status) == (OrderStatus.ALLOCATED,) * 2

    def timeline(order):
        return [
            (e.kind, e.message.replace(order.number, "N"), sorted(e.data))
            for e in order.events.order_by("pk")
        ]

    assert timeline(batch) == timeline(single)
    message = InboundMessage.objects.get(delivery_id="batch")
    placed = batch.events.get(kind=OrderEvent.Kind.PLACED)
    assert placed.data["inbound_message"] == message.pk and message.order == batch
    assert batch.history.count() == single.history.count()
    assert customer_emails("order_received", order=batch).exists()
    assert [(line.sku, line.quantity) for line in batch.lines.all()] == [
        ("TSH-BLK-M", 3)
    ]


def test_one_bad_message_fails_alone(shop, database_queue):
    store(shop, shopify_order("#1"), delivery="1")
    bad = shopify_order("#2")
    bad["line_items"][0]["sku"] = "NOPE"
    store(shop, bad, delivery="2")
    store(shop, shopify_order("#3"), delivery="3")

    inbound_drain()

    statuses = dict(InboundMessage.objects.values_list("delivery_id", "status"))
    assert statuses == {"1": "processed", "2": "failed", "3": "processed"}
    assert "unknown SKU 'NOPE'" in InboundMessage.objects.get(delivery_id="2").error
    assert set(Order.objects.values_list("external_id", flat=True)) == {"#1", "#3"}


def test_same_order_twice_in_one_batch_makes_one_order(shop, database_queue):
    store(shop, shopify_order("#1"), delivery="1")
    store(shop, shopify_order("#1"), delivery="2")  # a re-sent webhook, new id

    inbound_drain()

    assert Order.objects.count() == 1
    statuses = dict(InboundMessage.objects.values_list("delivery_id", "status"))
    assert statuses == {"1": "processed", "2": "duplicate"}


def test_update_in_the_batch_that_creates_the_order_applies(shop, database_queue):
    store(shop, shopify_order("#1"), delivery="1")
    moved = shopify_order("#1", updated_at="2026-11-20T15:00:00-05:00")
    moved["shipping_address"] = {**moved["shipping_address"], "address1": "9 Elm"}
    store(shop, moved, delivery="2", topic="orders/updated")

    inbound_drain()

    assert Order.objects.get().ship_address1 == "9 Elm"


def test_batch_that_cannot_be_written_whole_is_taken_one_by_one(
    shop, database_queue, monkeypatch
):
    from orders.exceptions import OrderError

    def refuse(**kwargs):
        raise OrderError("refused whole")

    monkeypatch.setattr(draining, "orders_create_many", refuse)
    store(shop, shopify_order("#1"), delivery="1")
    store(shop, shopify_order("#2"), delivery="2")

    inbound_drain()

    assert Order.objects.count() == 2
    assert set(InboundMessage.objects.values_list("status", "attempts")) == {
        ("processed", 1)
    }


# ---- Shopify orders/updated: in updated_at order, lines refused


def updated(name="#1001", at="2026-11-21T10:00:00-05:00", address1="500 Lamar"):
    resource = shopify_order(name, updated_at=at)
    resource["shipping_address"] = {
        **resource["shipping_address"],
        "address1": address1,
    }
    return resource


def test_older_shopify_update_arriving_late_is_ignored(client, shop):
    post_shopify(client, shopify_order())
    newer = updated(at="2026-11-21T12:00:00-05:00", address1="2 New St")
    older = updated(at="2026-11-21T11:00:00-05:00", address1="1 Old St")

    post_shopify(client, newer, topic="orders/updated", delivery="u-new")
    post_shopify(client, older, topic="orders/updated", delivery="u-old")

    assert Order.objects.get().ship_address1 == "2 New St"
    late = InboundMessage.objects.get(delivery_id="u-old")
    assert late.status == Status.IGNORED
    assert "older than one already applied" in late.error
    assert "2026-11-21T12:00:00-05:00" in late.error


def test_shopify_updates_in_order_all_apply(client, shop):
    post_shopify(client, shopify_order())

    post_shopify(
        client,
        updated(at="2026-11-21T11:00:00-05:00"),
        topic="orders/updated",
        delivery="u-1",
    )
    post_shopify(
        client,
        updated(at="2026-11-21T12:00:00-05:00", address1="3 Later St"),
        topic="orders/updated",
        delivery="u-2",
    )

    assert Order.objects.get().ship_address1 == "3 Later St"


def test_shopify_line_edit_refused_on_timeline_and_message(client, shop):
    post_shopify(client, shopify_order())
    edited = updated(address1="123 Congress Ave")
    edited["line_items"][0]["current_quantity"] = 1  # Shopify's order edit
    edited["line_items"].append(
        {"id": 2, "sku": "MUG-1", "quantity": 2, "current_quantity": 2, "price": "5"}
    )

    post_shopify(client, edited, topic="orders/updated", delivery="u-1")

    order = Order.objects.get()
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [
        ("TSH-BLK-M", 3)
    ]
    note = order.events.get(kind=OrderEvent.Kind.CHANNEL)
    assert "MUG-1 0 → 2" in note.message and "TSH-BLK-M 3 → 1" in note.message
    assert "not applied" in note.message
    message = InboundMessage.objects.get(delivery_id="u-1")
    assert note.data["inbound_message"] == message.pk
    assert "MUG-1 0 → 2" in message.error


def test_shopify_update_with_same_lines_notes_nothing(client, shop):
    post_shopify(client, shopify_order())

    post_shopify(client, updated(), topic="orders/updated", delivery="u-1")

    order = Order.objects.get()
    assert order.ship_address1 == "500 Lamar"
    assert not order.events.filter(kind=OrderEvent.Kind.CHANNEL).exists()
    assert InboundMessage.objects.get(delivery_id="u-1").error == ""


# ---- a worker killed mid-batch (PostgreSQL, real processes)


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_then_the_sweep_loses_and_doubles_nothing(
    shop, database_queue, settings, tmp_path
):
    from tests.faults.processes import wait_for, workers

    settings.OMS_INBOX_WAKE_SECONDS = 0
    settings.OMS_INBOX_SWEEP_AFTER_SECONDS = 0
    for n in range(30):
        store(shop, shopify_order(f"#{n}", email=f"c{n}@example.com"), delivery=f"{n}")
        if n % 5 == 0:  # the platform sends it again
            assert store(shop, shopify_order(f"#{n}"), delivery=f"{n}")[1] is False
    paused = tmp_path / "inbox.batch"
    env = {
        "OMS_INBOX_BATCH": "10",
        "OMS_FAULT_PAUSE": "inbox.batch=60",
        "OMS_FAULT_SIGNAL_DIR": str(tmp_path),
    }

    with workers(("doomed", env)) as (doomed,):
        wait_for(paused.exists, timeout=60, what="a batch processed, not committed")
        doomed.kill()

    # Nothing the dead worker did was committed: every message still waits.
    assert InboundMessage.objects.filter(status=Status.RECEIVED).count() == 30
    assert not Order.objects.exists()

    def swept():
        replay.inbound_sweep()
        return not InboundMessage.objects.filter(status=Status.RECEIVED).exists()

    wait_for(swept, timeout=30, what="the sweep to process every message")
    assert InboundMessage.objects.count() == 30
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"processed"}
    orders = Order.objects.filter(channel=shop)
    assert orders.count() == 30
    assert orders.values("external_id").distinct().count() == 30
    assert InboundMessage.objects.values("order").distinct().count() == 30
