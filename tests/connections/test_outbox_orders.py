"""Generic channels hear of the orders taken in: one `order.created` outbox
message per order (here from a CSV import), the channels read once per few
seconds."""

import pytest

from connections.models import OutboundMessage
from connections.outbox import orders as outbox
from orders.importing.confirm import import_confirm
from tests import factories
from tests.orders.test_import import csv_bytes, row

pytestmark = pytest.mark.django_db


def test_csv_import_records_order_created_for_generic_channels(db, product, stock):
    stock(product, 10)
    factories.ChannelFactory(
        code="web", name="Web shop", webhook_url="https://shop.example.com/hook"
    )
    data = csv_bytes(row(ref=f"A-{n}", quantity="1") for n in range(3))

    confirmed = import_confirm(
        data=data,
        actor=None,
        channel=None,
        format_code="auto",
        filename="orders.csv",
        partial=False,
    )

    assert confirmed.result.written
    created = OutboundMessage.objects.filter(kind="order.created")
    assert sorted(created.values_list("payload__order__external_id", flat=True)) == [
        "A-0",
        "A-1",
        "A-2",
    ]
    assert {m.order_id for m in created} == set(confirmed.result.order_ids)


def test_outbox_order_created_is_recorded_once(db, product, stock):
    from connections.outbox.orders import outbox_orders_event

    stock(product, 10)
    channel = factories.ChannelFactory(
        code="web", name="Web shop", webhook_url="https://shop.example.com/hook"
    )
    order = factories.OrderFactory(channel=channel)

    first = outbox_orders_event(event="order.created", order_ids=[order.pk])
    again = outbox_orders_event(event="order.created", order_ids=[order.pk])

    assert (first, again) == (1, 0)


def test_webhook_channels_are_one_query_and_a_new_hook_counts_at_once(
    db, django_assert_num_queries
):
    factories.ChannelFactory(code="hooked", webhook_url="https://shop.test/hook")
    with django_assert_num_queries(1):
        first = outbox.webhook_channels()
    assert [channel.code for channel in first.values()] == ["hooked"]

    factories.ChannelFactory(code="later", webhook_url="https://later.test/hook")

    assert {c.code for c in outbox.webhook_channels().values()} == {"hooked", "later"}
