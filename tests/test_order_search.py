"""The order search finds orders by the numbers on every document the
customer or the warehouse holds: shipment, pick list, return and refund."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.sequences import parse_number
from fulfillment.models import Shipment
from returns.services.refunds import refund_create
from returns.services.returns import ReturnLineInput, return_open
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

DOCUMENT_TABLES = (
    "fulfillment_shipment",
    "fulfillment_picklist",
    "returns_returnrequest",
    "returns_refund",
)


@pytest.fixture
def documents(shipped, user):
    """Three shipped orders: one with a return, one with a refund."""
    returned, refunded, other = (shipped([(ProductFactory(), 2)]) for _ in range(3))
    rma = return_open(
        order=returned,
        lines=[
            ReturnLineInput(
                order_line=returned.lines.get(), quantity=1, reason="does_not_fit"
            )
        ],
        actor=user,
    )
    refund = refund_create(order=refunded, amount="5.00", actor=user)
    shipment = Shipment.objects.select_related("pick_list").get(order=other)
    return {
        "returned": returned,
        "refunded": refunded,
        "other": other,
        "rma": rma,
        "refund": refund,
        "shipment": shipment,
    }


def found(client, term: str) -> set[str]:
    response = client.get(reverse("admin:orders_order_changelist"), {"q": term})
    assert response.status_code == 200
    return {order.number for order in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("prefix", "term", "expected"),
    [
        ("SH", "SH-000123", "SH-000123"),
        ("SH", "sh-123", "SH-000123"),
        ("SH", " SH000123 ", "SH-000123"),
        ("PL", "pl-7", "PL-000007"),
        ("RMA", "rma-000012", "RMA-000012"),
        ("RF", "RF-9", "RF-000009"),
        ("RF", "RMA-9", None),
        ("SH", "SH-", None),
        ("SH", "SHIP-1", None),
    ],
)
def test_parse_number_reads_a_typed_document_number(prefix, term, expected):
    assert parse_number(prefix, term) == expected


def test_search_finds_the_order_of_a_shipment_number(admin_client, documents):
    shipment = documents["shipment"]
    expected = {documents["other"].number}
    assert found(admin_client, shipment.number) == expected
    assert found(admin_client, shipment.number.lower()) == expected


def test_search_finds_the_orders_of_a_pick_list_number(admin_client, documents):
    pick_list = documents["shipment"].pick_list
    assert found(admin_client, pick_list.number) == {documents["other"].number}


def test_search_finds_the_order_of_a_return_number(admin_client, documents):
    rma = documents["rma"]
    assert found(admin_client, rma.number) == {documents["returned"].number}


def test_search_finds_the_order_of_a_refund_number(admin_client, documents):
    refund = documents["refund"]
    assert found(admin_client, refund.number.lower()) == {documents["refunded"].number}


def test_search_still_finds_orders_by_number_and_tracking(admin_client, documents):
    other = documents["other"]
    assert found(admin_client, other.number) == {other.number}
    tracking = documents["shipment"].tracking_number
    assert found(admin_client, tracking) == {other.number}
    assert found(admin_client, "RMA-999999") == set()


def test_search_help_names_every_kind_of_number(admin_client, documents):
    page = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    for prefix in ("SO-", "SH-", "PL-", "RMA-", "RF-"):
        assert prefix in page


def _plan(sql: str) -> str:
    with connection.cursor() as cursor, transaction.atomic():
        # Tiny test tables always favour a scan; forbid it to see whether an
        # index can answer at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("kind", ["shipment", "pick_list", "rma", "refund"])
def test_document_number_search_reads_through_indexes(admin_client, documents, kind):
    term = {
        "shipment": documents["shipment"].number,
        "pick_list": documents["shipment"].pick_list.number,
        "rma": documents["rma"].number,
        "refund": documents["refund"].number,
    }[kind]
    with CaptureQueriesContext(connection) as captured:
        found(admin_client, term)
    lookups = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith("SELECT")
        and any(f'FROM "{table}"' in query["sql"] for table in DOCUMENT_TABLES)
    ]
    assert lookups
    for sql in lookups:
        plan = _plan(sql)
        assert "Seq Scan" not in plan, plan
        for table in DOCUMENT_TABLES:
            assert f"SCAN {table}\n" not in plan + "\n", plan
