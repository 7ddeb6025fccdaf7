"""The warehouse path through the admin, with permissions and query counts."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from fulfillment.models import (
    Carrier,
    DocumentPrint,
    PickList,
    PrintJob,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.printing import document_print_record
from fulfillment.services.shipping import shipment_ship
from oms.roles import CUSTOMER_SERVICE, WAREHOUSE, roles_setup
from orders.models import Order, OrderEvent, OrderStatus
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def run_action(client, model, action, objects, **data):
    return client.post(
        changelist(model),
        {"action": action, "_selected_action": [o.pk for o in objects], **data},
    )


def pack_rows(shipments, *, packages="1", weight_kg="") -> dict:
    """The bulk Mark packed form's rows, one per shipment."""
    rows = {
        "pack-TOTAL_FORMS": str(len(shipments)),
        "pack-INITIAL_FORMS": str(len(shipments)),
    }
    for index, shipment in enumerate(shipments):
        rows |= {
            f"pack-{index}-shipment": shipment.pk,
            f"pack-{index}-packages": packages,
            f"pack-{index}-weight_kg": weight_kg,
        }
    return rows


def pdf_pages(response) -> list:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages


@pytest.fixture
def warehouse_client(client, db):
    groups = roles_setup()
    worker = UserFactory(username="picker")
    worker.groups.add(groups[WAREHOUSE])
    client.force_login(worker)
    return client


@pytest.fixture
def allocated(place_order, stock):
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        stock(product, 20)
    return [place_order([(p, 1) for p in products[: n + 1]]) for n in range(3)]


def test_warehouse_takes_orders_from_pick_list_to_delivered_in_the_admin(
    warehouse_client, allocated, carrier
):
    client = warehouse_client

    response = run_action(client, Order, "create_pick_lists", allocated)
    assert response.status_code == 302
    pick_list = PickList.objects.get()
    assert {o.status for o in Order.objects.all()} == {OrderStatus.PICKING}

    pages = pdf_pages(run_action(client, PickList, "print_pick_lists", [pick_list]))
    assert pick_list.number in pages[0].extract_text()
    assert PickList.objects.get().status == PickList.Status.PICKING

    shipments = list(Shipment.objects.order_by("number"))
    pages = pdf_pages(run_action(client, Shipment, "print_packing_slips", shipments))
    assert len(pages) == 3

    form_page = run_action(client, Shipment, "mark_packed", shipments)
    assert form_page.status_code == 200 and b"Mark packed" in form_page.content
    run_action(
        client,
        Shipment,
        "mark_packed",
        shipments,
        apply="1",
        **pack_rows(shipments, packages="2"),
    )
    assert set(Shipment.objects.values_list("status", "packages")) == {("packed", 2)}
    assert {o.status for o in Order.objects.all()} == {OrderStatus.PACKED}
    assert PickList.objects.get().status == PickList.Status.DONE

    ship_page = run_action(client, Shipment, "ship", shipments)
    assert ship_page.status_code == 200
    rows = {
        "ship-TOTAL_FORMS": "2",
        "ship-INITIAL_FORMS": "2",
        "ship-0-shipment": shipments[0].pk,
        "ship-0-carrier": carrier.pk,
        "ship-0-service": "Ground",
        "ship-0-tracking_number": "1Z-A",
        "ship-1-shipment": shipments[1].pk,
        "ship-1-carrier": carrier.pk,
        "ship-1-service": "Express",
        "ship-1-tracking_number": "1Z-B",
    }
    run_action(client, Shipment, "ship", shipments[:2], apply="1", **rows)
    csv = f"shipment,carrier,tracking\n{shipments[2].number},pex,1Z-C\n"
    response = client.post(
        reverse("admin:fulfillment_shipment_ship_csv"), {"text": csv}
    )
    assert response.status_code == 302
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == [
        "1Z-A",
        "1Z-B",
        "1Z-C",
    ]
    assert {o.status for o in Order.objects.all()} == {OrderStatus.SHIPPED}

    pages = pdf_pages(run_action(client, Shipment, "print_shipping_labels", shipments))
    assert len(pages) == 3
    assert float(pages[0].mediabox.width) == pytest.approx(288, abs=0.5)

    run_action(client, Shipment, "mark_delivered", shipments)
    assert {o.status for o in Order.objects.all()} == {OrderStatus.DELIVERED}

    timeline = list(
        allocated[2]
        .events.order_by("created_at", "pk")
        .values_list("message", flat=True)
    )
    for words in (
        "on pick list",
        "Pick list",
        "Packing slip",
        "packed",
        "shipped",
        "Shipping label",
        "delivered",
    ):
        assert any(words in message for message in timeline), words
    assert set(
        OrderEvent.objects.exclude(kind="placed")
        .exclude(kind="allocated")
        .values_list("user__username", flat=True)
    ) == {"picker"}
    kinds = list(DocumentPrint.objects.values_list("kind", "user__username", "pages"))
    assert sorted(kinds) == [
        ("packing_slip", "picker", 3),
        ("pick_list", "picker", 1),
        ("shipping_label", "picker", 3),
    ]


def test_order_page_buttons_ship_with_a_carrier_and_print(
    admin_client, allocated, carrier
):
    order = allocated[0]
    step = lambda name: reverse("admin:orders_order_step", args=[order.pk, name])  # noqa: E731
    admin_client.post(step("start_picking"))
    admin_client.post(step("pack"), {"packages": "1", "weight_kg": "0.4"})
    assert admin_client.get(step("ship")).status_code == 200

    admin_client.post(
        step("ship"),
        {"carrier": carrier.pk, "service": "Ground", "tracking_numbers": "1Z-ORDER"},
    )

    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.weight_g, shipment.tracking_number) == (
        ShipmentStatus.SHIPPED,
        400,
        "1Z-ORDER",
    )
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    content = page.content.decode()
    assert shipment.number in content
    assert 'data-print="print_shipping_labels"' in content
    pages = pdf_pages(run_action(admin_client, Order, "print_shipping_labels", [order]))
    assert "1Z-ORDER" in pages[0].extract_text()


def test_ship_step_reports_a_missing_tracking_number(admin_client, allocated, carrier):
    order = allocated[0]
    step = lambda name: reverse("admin:orders_order_step", args=[order.pk, name])  # noqa: E731
    admin_client.post(step("start_picking"))
    admin_client.post(step("pack"))

    response = admin_client.post(step("ship"), {"carrier": carrier.pk})

    assert "Give the tracking number of each shipment." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PACKED


@pytest.mark.parametrize("role", [None, CUSTOMER_SERVICE])
def test_users_without_fulfilment_permissions_cannot_run_the_actions(
    client, allocated, user, carrier, role
):
    pick_lists_create(order_ids=[o.pk for o in allocated], actor=user)
    shipments = list(Shipment.objects.all())
    outsider = UserFactory(username="outsider")
    if role:
        outsider.groups.add(roles_setup()[role])
    client.force_login(outsider)

    run_action(client, Order, "create_pick_lists", allocated)
    run_action(client, Shipment, "mark_packed", shipments, apply="1")
    response = run_action(client, Shipment, "print_packing_slips", shipments)
    step = reverse("admin:orders_order_step", args=[allocated[0].pk, "pack"])

    assert response.get("Content-Type") != "application/pdf"
    assert client.post(step).status_code == 403
    assert client.get(reverse("admin:fulfillment_shipment_ship_csv")).status_code == 403
    assert PickList.objects.count() == 1
    assert set(Shipment.objects.values_list("status", flat=True)) == {"picking"}
    assert not DocumentPrint.objects.exists()


def test_large_batch_renders_in_the_background_with_progress_and_download(
    admin_client, allocated, user, settings, django_capture_on_commit_callbacks
):
    settings.OMS_DOCUMENT_BACKGROUND_FROM = 2
    pick_lists_create(order_ids=[o.pk for o in allocated], actor=user)
    shipments = list(Shipment.objects.all())

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, Shipment, "print_packing_slips", shipments)

    job = PrintJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:fulfillment_printjob_progress", args=[job.pk]
    )
    assert not DocumentPrint.objects.exists()
    progress = admin_client.get(response["Location"]).content.decode()
    assert 'id="print-progress" value="3" max="3"' in progress
    assert 'id="print-download"' in progress

    download = admin_client.get(
        reverse("admin:fulfillment_printjob_download", args=[job.pk])
    )

    assert len(pdf_pages(download)) == 3
    record = DocumentPrint.objects.get()
    assert (record.background, record.pages, record.user.username) == (True, 3, "boss")
    assert record.shipments.count() == 3


def test_queued_batch_shows_progress_and_refreshes(admin_client, allocated, user):
    pick_lists_create(order_ids=[o.pk for o in allocated], actor=user)
    job = PrintJob.objects.create(
        kind="packing_slip",
        object_ids=list(Shipment.objects.values_list("pk", flat=True)),
        total=3,
    )
    url = reverse("admin:fulfillment_printjob_progress", args=[job.pk])
    content = admin_client.get(url).content.decode()
    assert 'http-equiv="refresh"' in content
    assert "manage.py worker" in content
    download = admin_client.get(
        reverse("admin:fulfillment_printjob_download", args=[job.pk])
    )
    assert download.status_code == 302


# ---- admin pages: bounded queries whatever the number of rows


@pytest.fixture
def grow(place_order, stock, user, carrier):
    """Add `n` shipped orders with their pick list, tracking and print trail."""

    def add(n):
        for _ in range(n):
            product = ProductFactory()
            stock(product, 5)
            order = place_order([(product, 1)])
            pick_lists_create(order_ids=[order.pk], actor=user)
            shipment = Shipment.objects.get(order=order)
            shipment_pack(shipment=shipment, actor=user)
            shipment = shipment_ship(
                shipment=shipment,
                actor=user,
                carrier=carrier,
                tracking_number=f"T-{shipment.pk}",
            )
            TrackingEvent.objects.create(
                shipment=shipment, status="in_transit", occurred_at=shipment.shipped_at
            )
            document_print_record(
                kind="packing_slip", actor=user, shipment_ids=[shipment.pk], pages=1
            )
            PrintJob.objects.create(kind="packing_slip", object_ids=[shipment.pk])

    return add


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize(
    "model",
    [Shipment, PickList, Carrier, TrackingEvent, DocumentPrint, PrintJob, Order],
    ids=lambda m: m.__name__,
)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, grow, model):
    grow(2)
    few = count_queries(admin_client, changelist(model))
    grow(8)
    many = count_queries(admin_client, changelist(model))
    assert many == few
    assert many <= 15


@pytest.mark.parametrize("model", [Shipment, PickList, Order], ids=lambda m: m.__name__)
def test_change_pages_answer_with_bounded_queries(admin_client, grow, model):
    grow(3)
    obj = model.objects.order_by("pk").first()
    url = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]
    )
    assert count_queries(admin_client, url) <= 35


def test_warehouse_group_holds_the_fulfilment_permissions(db):
    group = roles_setup()[WAREHOUSE]
    codes = set(group.permissions.values_list("codename", flat=True))
    assert {"fulfil_shipment", "print_documents", "view_shipment"} <= codes
    service = Group.objects.get(name=CUSTOMER_SERVICE)
    assert "fulfil_shipment" not in set(
        service.permissions.values_list("codename", flat=True)
    )


def test_ship_form_with_a_bad_row_is_shown_again_and_ships_nothing(
    admin_client, allocated, user
):
    pick_lists_create(order_ids=[allocated[0].pk], actor=user)
    shipment = Shipment.objects.get()
    shipment_pack(shipment=shipment, actor=user)

    response = run_action(
        admin_client,
        Shipment,
        "ship",
        [shipment],
        apply="1",
        **{
            "ship-TOTAL_FORMS": "1",
            "ship-INITIAL_FORMS": "1",
            "ship-0-shipment": shipment.pk,
            "ship-0-carrier": "999",
            "ship-0-tracking_number": "X",
        },
    )

    assert response.status_code == 200
    assert shipment.number in response.content.decode()
    assert Shipment.objects.get().status == ShipmentStatus.PACKED


def test_ship_csv_reports_every_bad_line_at_once_and_keeps_the_rows(
    admin_client, allocated, user, carrier
):
    pick_lists_create(order_ids=[allocated[0].pk], actor=user)
    shipment = Shipment.objects.get()
    shipment_pack(shipment=shipment, actor=user)
    csv = f"{shipment.number},pex,1Z-1\nSH-404404,pex,1Z-2\nbroken line\n"
    url = reverse("admin:fulfillment_shipment_ship_csv")

    response = admin_client.post(
        url, {"file": SimpleUploadedFile("manifest.csv", csv.encode(), "text/csv")}
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Line 2: no shipment SH-404404." in content
    assert "Line 3: expected shipment,carrier,tracking" in content
    assert "Nothing was shipped" in content
    # The file's rows are in the box for a corrected try.
    assert f"{shipment.number},pex,1Z-1" in content
    assert Shipment.objects.get().status == ShipmentStatus.PACKED

    response = admin_client.post(
        url, {"text": csv.replace("broken line\n", "").replace("SH-404404", "")}
    )
    assert response.status_code == 200
    assert Shipment.objects.get().status == ShipmentStatus.PACKED

    response = admin_client.post(
        url, {"text": f"{shipment.number},pex,1Z-1\n"}, follow=True
    )
    assert f"Shipped 1: {shipment.number}" in response.content.decode()
    assert Shipment.objects.get().status == ShipmentStatus.SHIPPED


def test_ship_form_from_a_stale_page_is_refused(warehouse_client, allocated, carrier):
    from fulfillment.services.packing import shipment_pack
    from fulfillment.services.picking import pick_lists_create

    order = allocated[0]
    pick_lists_create(order_ids=[order.pk], actor=None)
    shipment = Shipment.objects.get(order=order)
    shipment_pack(shipment=shipment, actor=None)
    shipment.refresh_from_db()
    seen = f"{shipment.pk}:{shipment.version}"
    shipment.save(update_fields=["updated_at"])  # someone else, meanwhile

    response = run_action(
        warehouse_client,
        Shipment,
        "ship",
        [shipment],
        apply="1",
        seen_versions=seen,
        **{
            "ship-TOTAL_FORMS": "1",
            "ship-INITIAL_FORMS": "1",
            "ship-0-shipment": shipment.pk,
            "ship-0-carrier": carrier.pk,
            "ship-0-tracking_number": "1Z-LATE",
        },
    )

    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "packed" and shipment.tracking_number == ""


def test_ship_csv_upload_refuses_other_file_types_and_big_files(warehouse_client):
    url = reverse("admin:fulfillment_shipment_ship_csv")
    wrong = warehouse_client.post(
        url, {"file": SimpleUploadedFile("labels.pdf", b"%PDF-1.7", "application/pdf")}
    )
    assert "is not a .csv file" in wrong.content.decode()
    big = warehouse_client.post(
        url, {"file": SimpleUploadedFile("big.csv", b"x" * (2 * 1024 * 1024 + 1))}
    )
    assert "larger than 2 MB" in big.content.decode()
    assert not Shipment.objects.exists()
