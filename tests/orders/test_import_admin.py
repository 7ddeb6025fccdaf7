"""The manager's import path in the admin, and the spreadsheet export."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from oms.roles import MANAGER, roles_setup
from orders.models import ImportJob, Order
from tests.factories import UserFactory
from tests.orders.test_import import SAMPLE, SHOPIFY, catalogue, csv_bytes, row  # noqa: F401


@pytest.fixture
def manager_client(client, db):
    manager = UserFactory(username="mgr")
    manager.groups.add(roles_setup()[MANAGER])
    client.force_login(manager)
    return client


def upload(client, data: bytes, name="orders.csv", **fields):
    return client.post(
        reverse("admin:orders_order_import"),
        {
            "file": SimpleUploadedFile(name, data, "text/csv"),
            "format": "auto",
            **fields,
        },
    )


@pytest.mark.django_db
def test_orders_list_has_import_and_export_buttons_for_managers(manager_client):
    page = manager_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert reverse("admin:orders_order_import") in page
    assert reverse("admin:orders_order_export") in page


@pytest.mark.django_db
def test_preview_then_confirm_imports_in_the_request(manager_client, catalogue):  # noqa: F811
    response = upload(manager_client, SAMPLE.read_bytes())
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:orders_import_job", args=[job.pk])
    preview = manager_client.get(response.url).content.decode()
    assert "would import 3 orders (4 lines)" in preview
    assert "maria.schmidt@example.com" in preview and "(new)" in preview
    assert Order.objects.count() == 0

    manager_client.post(reverse("admin:orders_import_confirm", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == "done"
    assert Order.objects.count() == 3
    result = manager_client.get(reverse("admin:orders_import_job", args=[job.pk]))
    assert "imported 3 orders (4 lines)" in result.content.decode()


@pytest.mark.django_db
def test_preview_lists_every_problem_and_offers_no_confirm(manager_client, catalogue):  # noqa: F811
    data = csv_bytes([row(quantity="0"), row(ref="B", sku="NOPE")])
    job_url = upload(manager_client, data).url
    page = manager_client.get(job_url).content.decode()
    assert "row 2, column quantity" in page
    assert "row 3, column sku: unknown SKU" in page
    assert "Confirm import" not in page


@pytest.mark.django_db
def test_shopify_preview_needs_a_channel_and_reports_skips(manager_client, catalogue):  # noqa: F811
    from orders.models import Channel

    web = Channel.objects.get(code="web")
    job_url = upload(manager_client, SHOPIFY.read_bytes(), channel=web.pk).url
    page = manager_client.get(job_url).content.decode()
    assert "#1002 (already fulfilled in Shopify)" in page
    assert "would import 2 orders (3 lines)" in page


@pytest.mark.django_db
def test_unreadable_upload_is_refused_on_the_form(manager_client, catalogue):  # noqa: F811
    response = upload(manager_client, b"")
    assert "is empty" in response.content.decode() or "submitted file is empty" in (
        response.content.decode()
    )
    response = upload(manager_client, b"a,b\n1,2\n", name="orders.xlsx")
    assert "is not a .csv file" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_oversized_upload_names_the_limit(manager_client, catalogue, settings):  # noqa: F811
    settings.OMS_IMPORT_MAX_BYTES = 2048
    response = upload(manager_client, csv_bytes([row(ref=f"A{n}") for n in range(40)]))
    assert "the limit is 0 MB" in response.content.decode() or "limit" in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_large_file_runs_as_a_task_with_progress(
    manager_client,
    catalogue,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.OMS_IMPORT_BACKGROUND_LINES = 2
    job_url = upload(manager_client, SAMPLE.read_bytes()).url
    job = ImportJob.objects.get()
    assert "in the background" in manager_client.get(job_url).content.decode()

    # The task is queued once the confirm's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("admin:orders_import_confirm", args=[job.pk]))

    # The immediate task backend has run it; the status endpoint reports the end.
    status = manager_client.get(
        reverse("admin:orders_import_status", args=[job.pk])
    ).json()
    assert status["finished"] and status["percent"] == 100
    assert status["summary"].startswith("imported 3 orders")
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_running_job_page_shows_a_progress_bar(manager_client, catalogue):  # noqa: F811
    job_url = upload(manager_client, SAMPLE.read_bytes()).url
    ImportJob.objects.update(
        status="running",
        stage="checking",
        processed=2,
        total=4,
        heartbeat_at=timezone.now(),
    )
    page = manager_client.get(job_url).content.decode()
    assert '<progress id="import-progress" max="100" value="35"' in page
    # The page asks for its status from a script file (no inline script).
    assert f'importjob.js" data-status-url="{job_url}status/"' in page
    status = manager_client.get(job_url + "status/").json()
    assert (status["stage"], status["processed"], status["percent"]) == (
        "checking",
        2,
        35,
    )


@pytest.mark.django_db
def test_import_needs_the_import_permission(client, catalogue):  # noqa: F811
    client.force_login(UserFactory(username="clerk2"))
    assert client.get(reverse("admin:orders_order_import")).status_code == 403
    assert upload(client, SAMPLE.read_bytes()).status_code == 403


@pytest.mark.django_db
def test_csv_export_escapes_spreadsheet_formulas(
    admin_client, place_order, customer, product
):
    customer.name = '=HYPERLINK("http://evil.example","click")'
    customer.save()
    place_order([(product, 1)], allocate=False)
    response = admin_client.post(
        reverse("admin:orders_order_export"),
        {
            "format": "0",
            **{
                f"orderexportresource_{f}": "on"
                for f in ("number", "customer_name", "total")
            },
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert rows[0]["customer_name"].startswith("'=HYPERLINK")
    assert rows[0]["total"] == "10.00"


@pytest.mark.django_db
def test_xlsx_export_is_a_workbook(admin_client, place_order, product):
    place_order([(product, 1)], allocate=False)
    response = admin_client.post(
        reverse("admin:orders_order_export"),
        {
            "format": "1",
            **{f"orderexportresource_{f}": "on" for f in ("number", "total")},
        },
    )
    assert response.status_code == 200
    assert response.content[:2] == b"PK"


@pytest.mark.django_db
def test_address_check_hold_is_named_and_its_row_listed(manager_client, catalogue):  # noqa: F811
    data = csv_bytes(
        [
            row(ref="A-1"),
            row(ref="A-2", ship_country="DE", ship_region="", ship_postcode="1011"),
        ]
    )
    response = upload(manager_client, data)
    job = ImportJob.objects.get()

    preview = manager_client.get(response.url).content.decode()

    assert "Would be imported on hold" in preview
    assert (
        "Row 3, order A-2: on hold “Address check” — &#x27;1011&#x27; is not a "
        "postcode in Germany" in preview
    )

    manager_client.post(reverse("admin:orders_import_confirm", args=[job.pk]))
    done = manager_client.get(
        reverse("admin:orders_import_job", args=[job.pk])
    ).content.decode()

    assert "Row 3, order A-2: on hold “Address check”" in done
    assert "0 allocated, 1 on hold, 1 waiting for stock (backordered)." in done
    assert "the rest wait for stock" not in done
