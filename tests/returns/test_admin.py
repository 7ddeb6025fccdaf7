"""Returns through the admin, role by role (client POSTs), with the report,
its CSV and bounded query counts."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from inventory.models import StockLevel, StockMovement
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE, roles_setup
from orders.models import Channel, Order, OrderStatus
from returns.models import Refund, ReturnRequest, ReturnStatus
from returns.services.refunds import refund_approve, refund_create
from returns.services.returns import (
    Inspection,
    ReturnLineInput,
    return_approve,
    return_inspect,
    return_open,
    return_receive,
    return_reject,
)
from tests.factories import ChannelFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client, db):
    """login(role) logs the test client in as a member of that role."""
    groups = roles_setup()

    def as_role(role):
        person = UserFactory(username=role.lower().replace(" ", "-"))
        person.groups.add(groups[role])
        client.force_login(person)
        return client

    return as_role


@pytest.fixture
def order(shipped, product):
    return shipped([(product, 3)])


def url(name, *args):
    return reverse(f"admin:returns_{name}", args=args)


def step_url(rma, step):
    return url("returnrequest_step", rma.pk, step)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def requested(order, user, quantity=2):
    return return_open(
        order=order,
        lines=[
            ReturnLineInput(
                order_line=order.lines.get(), quantity=quantity, reason="defective"
            )
        ],
        actor=user,
    )


def approved(order, user, quantity=2):
    rma = requested(order, user, quantity)
    return return_approve(return_request=rma, actor=user)


def inspected(order, user, location, quantity=2):
    rma = approved(order, user, quantity)
    line = rma.lines.get()
    return_receive(return_request=rma, actor=user, quantities={line.pk: quantity})
    return return_inspect(
        return_request=rma,
        actor=user,
        inspections={line.pk: Inspection("resellable", location)},
    )


# ---- customer service: open, approve, reject


def test_customer_service_opens_a_return_from_the_order_page(login, order):
    client = login(CUSTOMER_SERVICE)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    open_url = f"{url('returnrequest_open')}?order={order.pk}"
    assert open_url in page.content.decode()

    line = order.lines.get()
    response = client.post(
        open_url,
        {
            f"quantity_{line.pk}": "2",
            f"reason_{line.pk}": "does_not_fit",
            "resolution": "exchange",
            "note": "Too tight",
        },
    )

    rma = ReturnRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("returnrequest_change", rma.pk)
    assert (rma.status, rma.resolution, rma.customer_note) == (
        "requested",
        "exchange",
        "Too tight",
    )
    assert rma.lines.get().quantity == 2


def test_open_form_refuses_more_than_shipped_and_opens_nothing(login, order):
    client = login(CUSTOMER_SERVICE)
    line = order.lines.get()
    response = client.post(
        f"{url('returnrequest_open')}?order={order.pk}",
        {f"quantity_{line.pk}": "4", f"reason_{line.pk}": "defective"},
    )
    assert response.status_code == 200
    assert "less than or equal to 3" in response.content.decode()
    assert not ReturnRequest.objects.exists()


def test_open_page_finds_the_order_by_its_number(login, order):
    client = login(CUSTOMER_SERVICE)
    response = client.get(url("returnrequest_open"), {"order_number": order.number})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?order={order.pk}")


def test_customer_service_approves_and_the_customer_gets_the_label(
    login, order, user, django_capture_on_commit_callbacks
):
    rma = requested(order, user)
    client = login(CUSTOMER_SERVICE)
    assert client.get(step_url(rma, "approve")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(step_url(rma, "approve"), {"message": ""})

    assert response.status_code == 302
    rma.refresh_from_db()
    assert rma.status == ReturnStatus.APPROVED
    assert mail.outbox[-1].attachments[0][0] == f"return-label-{rma.number}.pdf"
    label = client.get(url("returnrequest_label", rma.pk))
    pages = PdfReader(io.BytesIO(b"".join(label.streaming_content))).pages
    assert rma.number in pages[0].extract_text()
    # The download is on the print log and the order's timeline.
    from fulfillment.models import DocumentPrint

    printed = DocumentPrint.objects.get(kind="return_label")
    assert (
        printed.references == [rma.number]
        and printed.user.username == "customer-service"
    )
    assert order.events.filter(kind="document", message__contains=rma.number).exists()


def test_customer_service_rejects_with_a_message(login, order, user):
    rma = requested(order, user)
    client = login(CUSTOMER_SERVICE)

    client.post(step_url(rma, "reject"), {"message": "Bought in a store."})

    rma.refresh_from_db()
    assert (rma.status, rma.decision_message) == ("rejected", "Bought in a store.")


def test_warehouse_cannot_open_approve_or_refund(login, order, user):
    rma = requested(order, user)
    client = login(WAREHOUSE)
    assert client.get(f"{url('returnrequest_open')}?order={order.pk}").status_code == (
        403
    )
    assert client.post(step_url(rma, "approve"), {}).status_code == 403
    assert client.post(step_url(rma, "reject"), {"message": "x"}).status_code == 403
    assert ReturnRequest.objects.get().status == ReturnStatus.REQUESTED
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert url("returnrequest_open") not in page.content.decode()


# ---- warehouse: receive and inspect


def test_warehouse_receives_by_scanning_and_restocks(login, order, user, location):
    rma = approved(order, user)
    line = rma.lines.get()
    client = login(WAREHOUSE)

    response = client.post(
        url("returnrequest_scan"), {"code": f" {rma.number.lower()} "}
    )
    assert response["Location"] == step_url(rma, "receive")
    response = client.post(step_url(rma, "receive"), {f"received_{line.pk}": "2"})
    assert response["Location"] == step_url(rma, "inspect")
    response = client.post(
        step_url(rma, "inspect"),
        {f"condition_{line.pk}": "resellable", f"location_{line.pk}": location.pk},
    )

    assert response.status_code == 302
    rma.refresh_from_db()
    assert rma.status == ReturnStatus.INSPECTED
    assert StockLevel.objects.get(location=location).on_hand == 2
    assert StockMovement.objects.get(reason="return").reference == rma.number
    assert order.lines.get().quantity_returned == 2


def test_scanning_a_rejected_return_says_so_and_changes_nothing(login, order, user):
    rma = requested(order, user)
    return_reject(return_request=rma, actor=user, message="No.")
    client = login(WAREHOUSE)

    response = client.post(url("returnrequest_scan"), {"code": rma.number})

    assert response.status_code == 200
    assert (
        f"Return {rma.number} is Rejected: there is nothing to receive"
        in texts(response)[0]
    )
    line = rma.lines.get()
    response = client.post(step_url(rma, "receive"), {f"received_{line.pk}": "2"})
    assert any("Rejected and cannot be received" in t for t in texts(response))
    assert ReturnRequest.objects.get().status == ReturnStatus.REJECTED
    assert order.lines.get().quantity_returned == 0


def test_customer_service_cannot_receive_or_inspect(login, order, user):
    rma = approved(order, user)
    line = rma.lines.get()
    client = login(CUSTOMER_SERVICE)
    assert client.post(url("returnrequest_scan"), {"code": rma.number}).status_code == (
        403
    )
    response = client.post(step_url(rma, "receive"), {f"received_{line.pk}": "2"})
    assert response.status_code == 403
    assert ReturnRequest.objects.get().status == ReturnStatus.APPROVED


# ---- refunds: only managers approve


def test_customer_service_proposes_and_only_a_manager_approves(
    login, order, user, location
):
    rma = inspected(order, user, location)
    line = rma.lines.get()
    client = login(CUSTOMER_SERVICE)
    client.post(
        step_url(rma, "refund"),
        {f"refund_{line.pk}": "2", "external_reference": "sneaky", "amount": ""},
    )
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.external_reference) == (
        "pending",
        Decimal("20.00"),
        "",
    )
    approve = url("refund_decide", refund.pk, "approve")
    assert client.post(approve, {"external_reference": "re_1"}).status_code == 403

    client = login(MANAGER)
    response = client.post(approve, {"external_reference": "re_1"})

    assert response.status_code == 302
    refund.refresh_from_db()
    assert (refund.status, refund.external_reference) == ("approved", "re_1")
    assert ReturnRequest.objects.get().status == ReturnStatus.REFUNDED


def test_manager_refund_above_what_was_paid_is_refused(login, order, user, location):
    rma = inspected(order, user, location)
    client = login(MANAGER)

    response = client.post(
        step_url(rma, "refund"),
        {"amount": "30.01", "external_reference": "re_2"},
    )

    assert response.status_code == 200
    assert any("at most 30.00 USD" in t for t in texts(response))
    assert not Refund.objects.exists()
    assert ReturnRequest.objects.get().status == ReturnStatus.INSPECTED

    client.post(step_url(rma, "refund"), {"amount": "30.00", "external_reference": "r"})
    assert Refund.objects.get().status == "approved"


def test_order_refund_without_a_return_by_a_manager_at_the_limit(login, order):
    client = login(MANAGER)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    refund_url = f"{url('refund_order')}?order={order.pk}"
    assert refund_url in page.content.decode()
    line = order.lines.get()

    response = client.post(
        refund_url,
        {f"refund_{line.pk}": "3", "amount": "0.01", "external_reference": "re_9"},
    )
    assert any("at most 30.00 USD" in t for t in texts(response))
    assert not Refund.objects.exists()

    client.post(
        refund_url,
        {
            f"refund_{line.pk}": "3",
            "reason": "Arrived late",
            "external_reference": "re_9",
        },
    )
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.return_request) == (
        "approved",
        Decimal("30.00"),
        None,
    )


def test_customer_service_order_refund_waits_for_a_manager(login, order):
    client = login(CUSTOMER_SERVICE)
    client.post(
        f"{url('refund_order')}?order={order.pk}",
        {"amount": "5.00", "external_reference": "ignored"},
    )
    refund = Refund.objects.get()
    assert refund.status == "pending"
    reject = url("refund_decide", refund.pk, "reject")
    assert client.post(reject, {"note": "x"}).status_code == 403

    login(MANAGER).post(reject, {"note": "Not agreed"})
    refund.refresh_from_db()
    assert refund.status == "rejected"
    assert login(WAREHOUSE).get(url("refund_order")).status_code == 403


def test_customer_service_exchanges_for_another_size(
    login, order, user, location, stock
):
    rma = inspected(order, user, location)
    line = rma.lines.get()
    bigger = ProductFactory(sku="TSH-BLK-L")
    stock(bigger, 3)
    client = login(CUSTOMER_SERVICE)

    client.post(
        step_url(rma, "exchange"),
        {f"product_{line.pk}": bigger.pk, f"quantity_{line.pk}": "2"},
    )

    rma.refresh_from_db()
    assert rma.status == ReturnStatus.EXCHANGED
    assert rma.replacement_order.status == OrderStatus.ALLOCATED
    assert rma.replacement_order.lines.get().sku == "TSH-BLK-L"


# ---- the report


def test_report_is_for_managers_with_a_chart_and_a_safe_csv(
    login, shipped, user, location
):
    product = ProductFactory(sku="=HYPERLINK(1)", name="+cmd")
    order = shipped([(product, 4)])
    inspected(order, user, location, quantity=1)

    assert login(CUSTOMER_SERVICE).get(url("returnrequest_report")).status_code == 403
    client = login(MANAGER)
    response = client.get(url("returnrequest_report"))
    content = response.content.decode()
    assert response.status_code == 200
    assert '<svg class="oms-chart" role="img"' in content
    assert "<title>Defective: 1 unit</title>" in content
    assert "<h3>Returned units by reason</h3>" in content
    assert "<strong>1</strong> unit asked back on 1 return " in " ".join(
        content.split()
    )
    assert "<title>Web shop: 25 %</title>" in content
    assert "25.0 %" in content

    response = client.get(url("returnrequest_report"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    product_row = next(row for row in rows if row[0] == "product")
    assert product_row[1:4] == ["'=HYPERLINK(1)", "'=HYPERLINK(1) · +cmd", "4"]
    assert product_row[6] == "25.0"


def test_report_refuses_a_reversed_range(login):
    client = login(MANAGER)
    response = client.get(
        url("returnrequest_report"), {"start": "2026-02-01", "end": "2026-01-01"}
    )
    assert response.status_code == 200
    assert "must not be after the end" in response.content.decode()


# ---- bounded queries


@pytest.fixture
def grow(shipped, user, location):
    """Add `n` orders, each with a refunded return, over fresh channels."""

    def add(n):
        for _ in range(n):
            channel = ChannelFactory(code=f"ch-{Channel.objects.count()}")
            product = ProductFactory()
            order = shipped([(product, 2)])
            Order.objects.filter(pk=order.pk).update(channel=channel)
            rma = inspected(order, user, location, quantity=1)
            refund = refund_create(
                order=order,
                return_request=rma,
                line_quantities={order.lines.get().pk: 1},
                actor=user,
            )
            refund_approve(refund=refund, actor=user, external_reference="r")

    return add


def count_queries(client, address) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, address
    return len(captured)


@pytest.mark.parametrize(
    "address",
    [
        "admin:returns_returnrequest_changelist",
        "admin:returns_refund_changelist",
        "admin:orders_order_changelist",
        "admin:returns_returnrequest_report",
    ],
)
def test_list_and_report_queries_do_not_grow_with_rows(admin_client, grow, address):
    grow(2)
    few = count_queries(admin_client, reverse(address))
    grow(6)
    many = count_queries(admin_client, reverse(address))
    assert many == few
    assert many <= 15


def test_return_and_order_pages_answer_with_bounded_queries(admin_client, grow):
    grow(1)
    rma = ReturnRequest.objects.get()
    for address in (
        url("returnrequest_change", rma.pk),
        url("refund_change", Refund.objects.get().pk),
        reverse("admin:orders_order_change", args=[rma.order_id]),
        step_url(rma, "refund"),
    ):
        assert count_queries(admin_client, address) <= 35, address


def test_order_list_shows_the_return_state(admin_client, grow):
    grow(1)
    response = admin_client.get(reverse("admin:orders_order_changelist"))
    assert "Partially returned" in response.content.decode()
    response = admin_client.get(
        reverse("admin:orders_order_changelist"), {"returned": "partial"}
    )
    assert response.context["cl"].result_count == 1


def test_step_from_a_stale_page_is_refused(login, order, user, location):
    rma = requested(order, user)
    client = login(CUSTOMER_SERVICE)
    stale = ReturnRequest.objects.get(pk=rma.pk).version
    return_approve(return_request=rma, actor=user)  # someone else, meanwhile

    response = client.post(
        step_url(rma, "reject"), {"message": "Too late.", "seen_version": stale}
    )

    assert response.status_code == 302
    assert any("was changed by someone else" in t for t in texts(response))
    assert ReturnRequest.objects.get(pk=rma.pk).status == ReturnStatus.APPROVED
