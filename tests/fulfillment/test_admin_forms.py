"""The warehouse floor in the admin: scanner-safe bulk forms that keep what was
typed, per-shipment pack weights, carrier services as choices, the flow
around the pick list, and numbered pick list pages."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from fulfillment.models import PickList, Shipment, ShipmentStatus, TrackingEvent
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from orders.models import Order
from tests.factories import CarrierFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHIPMENTS = reverse("admin:fulfillment_shipment_changelist")


def action(client, model_changelist, name, objects, *, follow=False, **data):
    return client.post(
        model_changelist,
        {"action": name, "_selected_action": [o.pk for o in objects], **data},
        follow=follow,
    )


def ship_rows(shipments, rows) -> dict:
    """The bulk Ship form: `rows` are (carrier pk or "", service, tracking)."""
    data = {
        "apply": "1",
        "ship-TOTAL_FORMS": str(len(shipments)),
        "ship-INITIAL_FORMS": str(len(shipments)),
    }
    for index, (shipment, (carrier, service, tracking)) in enumerate(
        zip(shipments, rows, strict=True)
    ):
        data |= {
            f"ship-{index}-shipment": shipment.pk,
            f"ship-{index}-carrier": carrier,
            f"ship-{index}-service": service,
            f"ship-{index}-tracking_number": tracking,
        }
    return data


def row_html(content: str, shipment: Shipment) -> str:
    """The table row of a shipment on a bulk form page."""
    match = re.search(
        rf"<tr[^>]*>\s*<td><input type=\"hidden\"[^>]*value=\"{shipment.pk}\".*?</tr>",
        content,
        re.S,
    )
    assert match, shipment.number
    return match.group(0)


def pdf_text(response) -> list[str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    return [page.extract_text() for page in reader.pages]


@pytest.fixture
def packed(place_order, stock, user):
    """Place `n` one-line orders, pick and pack them; return their shipments."""

    def make(n, *, quantity=1, weight_g=250):
        orders = []
        for _ in range(n):
            product = ProductFactory(weight_g=weight_g)
            stock(product, 10)
            orders.append(place_order([(product, quantity)]))
        pick_lists_create(order_ids=[o.pk for o in orders], actor=user)
        shipments = list(Shipment.objects.order_by("number"))
        for shipment in shipments:
            shipment_pack(shipment=shipment, actor=user)
        return list(Shipment.objects.order_by("number"))

    return make


# ---- bulk ship by scanner


def test_ship_form_moves_on_enter_and_starts_with_the_default_carrier(
    admin_client, packed, carrier
):
    shipments = packed(2)
    CarrierFactory(code="zz", name="Zulu Post", services="Night")

    content = action(admin_client, SHIPMENTS, "ship", shipments).content.decode()

    # Scanner inputs, and the script that turns Enter into "next row".
    assert content.count('data-scan="tracking"') == 2
    # (a static file the page names with its form: no inline script).
    assert 'admin/scanrows.js" data-form="ship-form"' in content
    script = finders.find("admin/scanrows.js")
    assert script, "oms/assets/admin/scanrows.js is missing"
    script_text = Path(script).read_text()
    assert 'event.key !== "Enter"' in script_text and "requestSubmit" in script_text
    # The first active carrier by name is chosen; services are the carrier's.
    assert content.count(f'<option value="{carrier.pk}" selected>') == 2
    assert '<optgroup label="Parcel Express">' in content
    assert '<option value="Ground">Ground</option>' in content


def test_ship_form_with_a_missing_scan_keeps_every_entry_and_ships_nothing(
    admin_client, packed, carrier
):
    shipments = packed(3)

    response = action(
        admin_client,
        SHIPMENTS,
        "ship",
        shipments,
        **ship_rows(
            shipments,
            [
                (carrier.pk, "Ground", "1Z-FIRST"),
                (carrier.pk, "", ""),
                (carrier.pk, "Express", "1Z-THIRD"),
            ],
        ),
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was shipped" in content
    assert "Scan or type the Parcel Express tracking number." in row_html(
        content, shipments[1]
    )
    assert 'value="1Z-FIRST"' in row_html(content, shipments[0])
    assert 'value="1Z-THIRD"' in row_html(content, shipments[2])
    assert '<option value="Express" selected>' in row_html(content, shipments[2])
    assert set(Shipment.objects.values_list("status", flat=True)) == {"packed"}


def test_ship_form_refused_by_the_service_shows_the_error_beside_its_row(
    admin_client, packed, shipped, carrier
):
    shipments = packed(2)
    earlier = shipped([(ProductFactory(), 1)])
    used = earlier.shipments.get().tracking_number

    response = action(
        admin_client,
        SHIPMENTS,
        "ship",
        shipments,
        **ship_rows(shipments, [(carrier.pk, "", "1Z-NEW"), (carrier.pk, "", used)]),
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert f"tracking number {used} is already on shipment" in row_html(
        content, shipments[1]
    )
    assert "already on shipment" not in row_html(content, shipments[0])
    assert 'value="1Z-NEW"' in row_html(content, shipments[0])
    # All or nothing: the good first row did not ship either.
    assert set(
        Shipment.objects.filter(pk__in=[s.pk for s in shipments]).values_list(
            "status", "tracking_number"
        )
    ) == {("packed", "")}


def test_ship_form_refuses_the_same_scan_twice_and_a_foreign_service(
    admin_client, packed, carrier
):
    shipments = packed(2)

    response = action(
        admin_client,
        SHIPMENTS,
        "ship",
        shipments,
        **ship_rows(
            shipments, [(carrier.pk, "Night", "1Z-SAME"), (carrier.pk, "", "1Z-SAME")]
        ),
    )

    content = response.content.decode()
    assert "is scanned on row 1 too" in row_html(content, shipments[1])
    assert "Select a valid choice" in row_html(content, shipments[0])
    assert not Shipment.objects.exclude(status=ShipmentStatus.PACKED).exists()


def test_ship_form_ships_every_row_with_the_chosen_service(
    admin_client, packed, carrier
):
    shipments = packed(2)

    response = action(
        admin_client,
        SHIPMENTS,
        "ship",
        shipments,
        **ship_rows(
            shipments, [(carrier.pk, "Ground", "1Z-A"), (carrier.pk, "Express", "1Z-B")]
        ),
    )

    assert response.status_code == 302
    assert list(
        Shipment.objects.order_by("number").values_list(
            "status", "service", "tracking_number"
        )
    ) == [("shipped", "Ground", "1Z-A"), ("shipped", "Express", "1Z-B")]


def test_ship_form_queries_do_not_grow_with_rows(admin_client, packed, carrier):
    def queries(shipments) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = action(admin_client, SHIPMENTS, "ship", shipments)
        assert response.status_code == 200
        return len(captured)

    shipments = packed(6)
    assert queries(shipments[:2]) == queries(shipments) <= 15


def test_tracking_csv_reports_every_bad_line_at_once_and_keeps_the_file(
    admin_client, shipped
):
    order = shipped([(ProductFactory(), 1)])
    tracking = order.shipments.get().tracking_number
    csv = (
        "tracking number,status,time,place,description,estimated delivery\n"
        f"{tracking},in_transit,2026-03-02 09:00,Reno,Departed,\n"
        "1Z-UNKNOWN,in_transit,2026-03-02 09:00,Reno,Departed,\n"
        f"{tracking},flying,2026-03-02 10:00,Reno,?,\n"
    )

    response = admin_client.post(
        reverse("admin:fulfillment_shipment_tracking_csv"),
        {"file": SimpleUploadedFile("events.csv", csv.encode(), "text/csv")},
    )

    content = response.content.decode()
    problems = re.search(r'<ul class="errorlist" id="csv-problems">(.*?)</ul>', content)
    assert problems, content
    lines = re.findall(r"<li>Line (\d+):", problems.group(1))
    assert lines == ["3", "4"]
    assert "Nothing was recorded" in content
    assert "1Z-UNKNOWN,in_transit" in content  # the file, kept in the box
    assert not TrackingEvent.objects.filter(source="csv").exists()


# ---- forms: weights per shipment, services, one default carrier


def test_mark_packed_offers_each_shipment_its_product_weight_and_keeps_each(
    admin_client, place_order, stock, user
):
    heavy, light = ProductFactory(weight_g=1200), ProductFactory(weight_g=300)
    stock(heavy, 5)
    stock(light, 5)
    orders = [place_order([(heavy, 2)]), place_order([(light, 3)])]
    pick_lists_create(order_ids=[o.pk for o in orders], actor=user)
    first, second = Shipment.objects.order_by("number")

    page = action(admin_client, SHIPMENTS, "mark_packed", [first, second])

    content = page.content.decode()
    assert 'value="2.4"' in row_html(content, first)
    assert 'value="0.9"' in row_html(content, second)

    rows = {
        "apply": "1",
        "pack-TOTAL_FORMS": "2",
        "pack-INITIAL_FORMS": "2",
        "pack-0-shipment": first.pk,
        "pack-0-packages": "2",
        "pack-0-weight_kg": "2.55",
        "pack-1-shipment": second.pk,
        "pack-1-packages": "1",
        "pack-1-weight_kg": "",
    }
    response = action(admin_client, SHIPMENTS, "mark_packed", [first, second], **rows)

    assert response.status_code == 302
    assert list(
        Shipment.objects.order_by("number").values_list(
            "status", "packages", "weight_g"
        )
    ) == [("packed", 2, 2550), ("packed", 1, 900)]


def test_mark_packed_with_a_bad_row_packs_nothing_and_keeps_the_entries(
    admin_client, picked, product, stock
):
    stock(product, 10)
    picked([[(product, 1)], [(product, 1)]])
    first, second = Shipment.objects.order_by("number")
    rows = {
        "apply": "1",
        "pack-TOTAL_FORMS": "2",
        "pack-INITIAL_FORMS": "2",
        "pack-0-shipment": first.pk,
        "pack-0-packages": "3",
        "pack-0-weight_kg": "1.5",
        "pack-1-shipment": second.pk,
        "pack-1-packages": "0",
        "pack-1-weight_kg": "0.2",
    }

    response = action(admin_client, SHIPMENTS, "mark_packed", [first, second], **rows)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was packed" in content
    assert "greater than or equal to 1" in row_html(content, second)
    assert 'value="1.5"' in row_html(content, first)
    assert set(Shipment.objects.values_list("status", flat=True)) == {"picking"}


def test_order_ship_step_starts_with_the_same_carrier_and_checks_the_service(
    admin_client, place_order, stock, user, carrier
):
    CarrierFactory(code="zz", name="Zulu Post", services="Night")
    product = ProductFactory()
    stock(product, 5)
    order = place_order([(product, 1)])
    step = reverse("admin:orders_order_step", args=[order.pk, "ship"])
    admin_client.post(
        reverse("admin:orders_order_step", args=[order.pk, "start_picking"])
    )
    admin_client.post(reverse("admin:orders_order_step", args=[order.pk, "pack"]))

    content = admin_client.get(step).content.decode()
    assert f'<option value="{carrier.pk}" selected>Parcel Express</option>' in content
    refused = admin_client.post(
        step, {"carrier": carrier.pk, "service": "Night", "tracking_numbers": "1Z"}
    )
    assert "Parcel Express offers Ground, Express, not Night." in (
        refused.content.decode()
    )
    admin_client.post(
        step, {"carrier": carrier.pk, "service": "Express", "tracking_numbers": "1Z"}
    )
    assert order.shipments.get().service == "Express"


# ---- the flow around the pick list


def test_wave_message_links_to_printing_exactly_its_pick_lists(
    admin_client, place_order, stock, user, location
):
    other = PickList.objects.none()
    product = ProductFactory()
    stock(product, 10)
    earlier = place_order([(product, 1)])
    pick_lists_create(order_ids=[earlier.pk], actor=user)
    other = PickList.objects.get()
    orders = [place_order([(product, 1)]) for _ in range(2)]

    response = action(
        admin_client,
        reverse("admin:orders_order_changelist"),
        "create_pick_lists",
        orders,
    )

    wave = PickList.objects.exclude(pk=other.pk).get()
    message = next(iter(get_messages(response.wsgi_request))).message
    link = re.search(r'href="([^"]*)" data-print="wave"', message).group(1)
    assert link == reverse("admin:fulfillment_picklist_print") + f"?ids={wave.pk}"
    text = "".join(pdf_text(admin_client.get(link.replace("&amp;", "&"))))
    assert wave.number in text and other.number not in text
    assert PickList.objects.get(pk=wave.pk).status == PickList.Status.PICKING


def test_pick_list_page_prints_and_links_to_its_shipments_documents(
    admin_client, packed, carrier, user
):
    shipments = packed(2)
    pick_list = PickList.objects.get()
    page_url = reverse("admin:fulfillment_picklist_change", args=[pick_list.pk])
    labels_url = reverse(
        "admin:fulfillment_picklist_documents", args=[pick_list.pk, "labels"]
    )
    slips_url = reverse(
        "admin:fulfillment_picklist_documents", args=[pick_list.pk, "packing-slips"]
    )

    content = admin_client.get(page_url).content.decode()
    assert f"?ids={pick_list.pk}" in content
    assert f"{SHIPMENTS}?pick_list={pick_list.pk}" in content
    assert slips_url in content
    # Packed, no carrier or tracking yet: no label is offered.
    assert labels_url not in content
    assert len(pdf_text(admin_client.get(slips_url))) == 2

    shipment_ship(
        shipment=shipments[0], actor=user, carrier=carrier, tracking_number="1Z-L"
    )

    content = admin_client.get(page_url).content.decode()
    assert f'href="{labels_url}"' in content and "Labels (1)" in content
    labels = pdf_text(admin_client.get(labels_url))
    assert len(labels) == 1 and "1Z-L" in labels[0]


def test_shipments_list_filters_by_pick_list_with_bounded_queries(
    admin_client, packed, place_order, stock, user
):
    shipments = packed(3)
    first_list = PickList.objects.get()
    product = ProductFactory()
    stock(product, 5)
    pick_lists_create(order_ids=[place_order([(product, 1)]).pk], actor=user)
    url = f"{SHIPMENTS}?pick_list={first_list.pk}"

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url)

    content = response.content.decode()
    assert response.status_code == 200
    assert len(captured) <= 15
    assert response.context["cl"].result_count == len(shipments)
    assert first_list.number in content  # the active filter names it


def test_labels_are_offered_only_for_shipments_with_carrier_and_tracking(
    admin_client, packed, carrier, user
):
    shipments = packed(2)
    order = shipments[0].order
    order_page = reverse("admin:orders_order_change", args=[order.pk])
    shipment_page = reverse("admin:fulfillment_shipment_change", args=[shipments[0].pk])

    order_content = admin_client.get(order_page).content.decode()
    shipment_content = admin_client.get(shipment_page).content.decode()
    assert 'data-print="print_packing_slips"' in order_content
    assert 'data-print="print_shipping_labels"' not in order_content
    assert 'data-print="print_shipping_labels"' not in shipment_content
    assert "Add tracking event" not in shipment_content
    response = action(
        admin_client, SHIPMENTS, "print_shipping_labels", shipments, follow=True
    )
    assert "get no label" in response.content.decode()

    shipment_ship(
        shipment=shipments[0], actor=user, carrier=carrier, tracking_number="1Z-OK"
    )

    assert 'data-print="print_shipping_labels"' in (
        admin_client.get(order_page).content.decode()
    )
    shipment_content = admin_client.get(shipment_page).content.decode()
    assert 'data-print="print_shipping_labels"' in shipment_content
    assert "Add tracking event" in shipment_content
    labels = pdf_text(
        action(admin_client, SHIPMENTS, "print_shipping_labels", shipments)
    )
    assert len(labels) == 1 and "1Z-OK" in labels[0]


# ---- pick lists number their pages


def test_pick_lists_number_their_pages_each_from_one(
    admin_client, place_order, stock, user
):
    products = [ProductFactory() for _ in range(70)]
    for product in products:
        stock(product, 5)
    long_order = place_order([(p, 1) for p in products])
    pick_lists_create(order_ids=[long_order.pk], actor=user)
    short_order = place_order([(products[0], 1)])
    pick_lists_create(order_ids=[short_order.pk], actor=user)
    long_list, short_list = PickList.objects.order_by("number")

    pages = pdf_text(
        admin_client.get(
            reverse("admin:fulfillment_picklist_print")
            + f"?ids={long_list.pk},{short_list.pk}"
        )
    )

    total = len(pages) - 1
    assert total >= 2
    for number, text in enumerate(pages[:total], start=1):
        assert f"Page {number} of {total}" in text
        assert f"Pick list {long_list.number}" in text
    assert "Page 1 of 1" in pages[-1] and short_list.number in pages[-1]
    assert Order.objects.count() == 2
