"""The order search finds orders by the numbers on every document the
customer or the warehouse holds: shipment, pick list, return and refund."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.sequences import parse_number
from fulfillment.models import Shipment
from orders.models import Order
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
    response = client.get(
        reverse("admin:orders_order_changelist"), {"q": term, "list": "1"}
    )
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


@pytest.fixture
def phoned(place_order, product, stock):
    stock(product, 3)
    order = place_order([(product, 1)])
    Order.objects.filter(pk=order.pk).update(
        ship_phone="+49 30 1234567", external_id="#1001"
    )
    return order


@pytest.mark.parametrize("typed", ["4930 1234567", "+49-30-1234567", "49301234567"])
def test_a_phone_number_is_found_however_it_is_typed(admin_client, phoned, typed):
    assert found(admin_client, typed) == {phoned.number}


def test_a_shop_number_is_found_without_its_sign(admin_client, phoned):
    assert found(admin_client, "1001") == {phoned.number}
    assert found(admin_client, "#1001") == {phoned.number}


def test_one_hit_opens_the_order(admin_client, phoned):
    response = admin_client.get(
        reverse("admin:orders_order_changelist"), {"q": "#1001"}
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:orders_order_change", args=[phoned.pk])
    # No term, or several hits: the list.
    assert admin_client.get(reverse("admin:orders_order_changelist")).status_code == 200


def test_the_phone_digits_are_read_through_their_index(phoned):
    from django.db.models import Value
    from django.db.models.lookups import Exact

    from core.lookups import Digits
    from orders.models import Customer
    from orders.selectors import order_search_q

    def plan(queryset) -> str:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())

    orders = plan(Order.objects.filter(order_search_q("4930 1234567")))
    assert "order_ship_phone_digits" in orders, orders
    digits = Exact(Digits("phone"), Value("49301234567"))
    customers = plan(Customer.objects.filter(digits))
    assert "customer_phone_digits" in customers, customers
