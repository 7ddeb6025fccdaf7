"""Journeys over the whole floor at 1400×900 and 1024×768 (issue 14):

- a manager reads the dashboard (it fills the screen, no chart is clipped,
  what needs attention links to its filtered list), walks every list (status
  and customer in view, nothing scrolls sideways, the search box has focus),
  finds orders by shipment, pick list, return and refund numbers, checks an
  address against its country, and meets the error pages, the sample import
  file and the CSV export;
- the warehouse follows a pick list: Mark packed with weights, the bulk Ship
  form by scanner (Enter moves on; an error keeps every entry), and prints
  the label of a long business address whole.

The session fixture fails a test when any answer is a 500 or any page it
visits scrolls sideways. Screenshots land in tests/e2e/screenshots/.
"""

import io
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from connections.models import InboundMessage
from fulfillment.models import (
    Carrier,
    PackScan,
    PickList,
    PrintJob,
    Shipment,
    TrackingEvent,
    WebhookDelivery,
)
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from inventory.models import Location, Product
from inventory.services import stock_receive
from oms.roles import MANAGER, WAREHOUSE
from orders.addresses import Address
from orders.models import Channel, Customer, ImportJob
from orders.services.orders import LineInput, order_create
from returns.services.refunds import refund_create
from returns.services.returns import ReturnLineInput, return_open
from tests.e2e.conftest import SCREENSHOTS, assert_fits, login

LONG_ADDRESS = Address(
    name="Alexandra Montgomery-Fitzgerald",
    company="Northwind Traders International Holdings LLC",
    address1="1600 Amphitheatre Parkway, Building 43",
    address2="Suite 1200, Attn: Receiving Dock B (rear entrance)",
    city="Mountain View",
    region="CA",
    postcode="94043",
    country="US",
)

# Every list a person works from, by admin URL name.
LISTS = [
    "orders_order",
    "fulfillment_shipment",
    "fulfillment_picklist",
    "returns_returnrequest",
    "returns_refund",
    "inventory_stocklevel",
    "inventory_product",
    "inventory_stockmovement",
    "orders_customer",
    "orders_orderevent",
    "fulfillment_trackingevent",
    "fulfillment_webhookdelivery",
    "connections_outboundmessage",
    "orders_importjob",
    "fulfillment_printjob",
    "connections_inboundmessage",
]


@pytest.fixture
def floor(db):
    """A small but complete day: orders in every state, a long business
    address shipped, a return and a pending refund, and one failure of each
    kind of background work."""
    channel = Channel.objects.create(code="web", name="Web shop (EU storefront)")
    customer = Customer.objects.create(
        email="bartholomew.featherstonehaugh@example.com",
        name="Bartholomew Featherstonehaugh-Worthington",
    )
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    carrier = Carrier.objects.create(
        code="ups",
        name="UPS",
        tracking_url_template="https://ups.example/{tracking}",
        services="Ground, Express",
    )
    product = Product.objects.create(
        sku="HOO-OAT-L", name="Hoodie, oat, L", weight_g=600
    )
    stock_receive(product=product, location=location, quantity=50, actor=None)

    def place(reference, address=None):
        return order_create(
            channel=channel,
            customer=customer,
            external_id=reference,
            address=address
            or Address(
                name=customer.name,
                address1="1 Main St",
                city="Austin",
                region="TX",
                postcode="78701",
                country="US",
            ),
            lines=[LineInput(product=product, quantity=2, unit_price=79)],
            actor=None,
        )

    long_order = place("WEB-1001", LONG_ADDRESS)
    to_pack = [place("WEB-1002"), place("WEB-1003")]
    waiting = place("WEB-1004")
    pick_lists_create(order_ids=[long_order.pk], actor=None)
    shipped = Shipment.objects.get(order=long_order)
    shipment_pack(shipment=shipped, actor=None)
    shipment_ship(
        shipment=shipped,
        actor=None,
        carrier=carrier,
        service="Ground",
        tracking_number="1ZLONGADDRESS01",
    )
    TrackingEvent.objects.create(
        shipment=shipped,
        status="in_transit",
        description="Departed facility",
        place="Reno, NV",
        occurred_at=timezone.now(),
    )
    wave = pick_lists_create(order_ids=[o.pk for o in to_pack], actor=None)
    rma = return_open(
        order=long_order,
        lines=[
            ReturnLineInput(
                order_line=long_order.lines.get(), quantity=1, reason="does_not_fit"
            )
        ],
        actor=None,
    )
    refund = refund_create(order=long_order, amount="10.00", actor=None)
    ImportJob.objects.create(
        filename="monday-orders.csv",
        source=None,
        status=ImportJob.Status.FAILED,
        error="The worker stopped.",
    )
    PrintJob.objects.create(
        kind="shipping_label", status=PrintJob.Status.FAILED, error="Stopped."
    )
    WebhookDelivery.objects.create(
        channel=channel,
        order=long_order,
        shipment=shipped,
        event="shipment.shipped",
        url="https://shop.example/hooks",
        attempt=WebhookDelivery.MAX_ATTEMPTS,
        response_code=503,
        error="Service Unavailable",
        succeeded=False,
    )
    InboundMessage.objects.create(
        channel=channel, source="api", topic="orders/create", external_id="WEB-9"
    )
    # The pack station's day: one packed shipment and one refused scan.
    PackScan.objects.create(shipment=shipped, kind=PackScan.Kind.PACK)
    PackScan.objects.create(
        shipment=shipped, kind=PackScan.Kind.ITEM, code="0000", accepted=False
    )
    return {
        "long_order": long_order,
        "shipped": shipped,
        "pick_list": PickList.objects.get(pk=wave.pick_lists[0].pk),
        "to_pack": to_pack,
        "waiting": waiting,
        "rma": rma,
        "refund": refund,
        "carrier": carrier,
    }


def list_fits(page) -> None:
    """The list's table is not wider than its box: every column in view."""
    overflow = page.evaluate(
        """() => {
          const box = document.querySelector('#changelist-form .results');
          return box ? [box.scrollWidth, box.clientWidth] : [0, 0];
        }"""
    )
    assert overflow[0] <= overflow[1] + 1, f"{page.url}: table {overflow}"


def in_view(page, selector: str) -> bool:
    """Is the element inside the window and inside its scrolling box?"""
    return page.evaluate(
        """(selector) => {
          const cell = document.querySelector(selector);
          if (!cell) return false;
          const rect = cell.getBoundingClientRect();
          const box = cell.closest('.results').getBoundingClientRect();
          return rect.left >= box.left && rect.right <= box.right + 1
            && rect.right <= document.documentElement.clientWidth;
        }""",
        selector,
    )


def dashboard_tables_read_across(page) -> None:
    """Every dashboard table fits its box and no word in it is broken
    across lines (headers once printed a letter a line)."""
    broken = page.eval_on_selector_all(
        "#oms-dashboard table",
        """tables => tables.flatMap(table => {
          const box = table.closest('.module');
          const wide = table.scrollWidth > box.clientWidth + 1
            ? [`${box.id}: table ${table.scrollWidth} > ${box.clientWidth}`] : [];
          const cells = [...table.querySelectorAll('th, td')].flatMap(cell => {
            const text = cell.innerText.trim();
            if (!text) return [];
            // The lines the cell's text sits on (text nodes only: a block
            // link's own box is no line).
            const lines = new Set();
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
              const range = document.createRange();
              range.selectNodeContents(walker.currentNode);
              for (const rect of range.getClientRects()) {
                if (rect.width) lines.add(Math.round(rect.top));
              }
            }
            const words = text.split(/\\s+/).length;
            return lines.size > words ? [`${box.id}: "${text}" ${lines.size} lines`]
              : [];
          });
          return wide.concat(cells);
        })""",
    )
    assert not broken, broken


def found(page, term: str) -> str:
    """What a search shows: the list, or the order itself when it is the
    only hit (the search opens it)."""
    page.goto(f"{reverse('admin:orders_order_changelist')}?q={term}")
    if "/change/" in page.url:
        return page.inner_text("#content")
    return page.inner_text("#result_list")


@pytest.mark.django_db(transaction=True)
def test_manager_dashboard_lists_search_and_polish(page, shot, role_user, floor):
    role_user("maria", MANAGER, name="Maria Schmidt")
    login(page, "maria")
    width = page.viewport_size["width"]

    # 10: the greeting uses the person's name.
    assert page.text_content("#welcome-name") == "Maria Schmidt"

    # 8: the dashboard fills the width; every chart has a title and axes
    # and fits its box; what needs attention links to its filtered list.
    page.goto("/admin/")
    assert_fits(page)
    grid = page.eval_on_selector("#oms-dashboard", "e => e.offsetWidth")
    assert grid >= 0.8 * (width - 80)
    charts = page.eval_on_selector_all(
        "figure.oms-chart-figure",
        """figures => figures.map(f => {
          const svg = f.querySelector('svg').getBoundingClientRect();
          const box = f.closest('.module').getBoundingClientRect();
          return {
            title: f.querySelector('figcaption').innerText.trim(),
            ticks: f.querySelectorAll('svg text').length,
            inside: svg.left >= box.left && svg.right <= box.right + 1,
          };
        })""",
    )
    assert len(charts) >= 5
    assert all(c["title"] and c["ticks"] >= 3 and c["inside"] for c in charts)
    attention = " ".join(page.inner_text("#dash-attention").split())
    for label in (
        "Refunds awaiting your approval 1",
        "Order imports that failed 1",
        "Print batches that failed 1",
        "Webhook deliveries that gave up (last 7 days) 1",
    ):
        assert label in attention
    assert page.is_visible("#dash-packers table")
    dashboard_tables_read_across(page)
    shot(page, "dashboard")
    page.click("#dash-attention >> text=Refunds awaiting your approval")
    assert floor["refund"].number in page.inner_text("#result_list")
    page.goto("/admin/")
    page.click("#dash-attention >> text=Webhook deliveries that gave up")
    assert "Service Unavailable" in page.inner_text("#result_list")

    # 9: every list fits, numbers do not wrap, the search box has focus.
    for name in LISTS:
        page.goto(reverse(f"admin:{name}_changelist"))
        assert_fits(page)
        list_fits(page)
        if page.query_selector("#searchbar"):
            assert page.evaluate("document.activeElement.id") == "searchbar", name
        number = page.query_selector("#result_list td.field-number")
        if number:
            assert number.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    page.goto(reverse("admin:orders_order_changelist"))
    for column in ("status_badge", "customer_name", "number"):
        assert in_view(page, f"#result_list tbody tr .field-{column}"), column
    shot(page, "orders-list")

    # 7: the order search finds shipment, pick list, return and refund numbers.
    long_number = floor["long_order"].number
    assert long_number in found(page, floor["shipped"].number.lower())
    assert long_number in found(page, floor["rma"].number)
    assert long_number in found(page, floor["refund"].number)
    picked = found(page, floor["pick_list"].number)
    assert all(order.number in picked for order in floor["to_pack"])

    # 2 and 3: the country is a choice by name, and a postcode is checked
    # against it (the form keeps what was typed).
    page.goto(reverse("admin:orders_order_change", args=[floor["waiting"].pk]))
    assert page.eval_on_selector("#id_ship_country", "e => e.tagName") == "SELECT"
    assert "Germany" in page.inner_text("#id_ship_country")
    page.fill("#id_ship_postcode", "9999")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    assert page.input_value("#id_ship_postcode") == "9999"
    assert_fits(page)

    # 10: error pages with a way back, the sample import file, CSV export.
    response = page.goto("/admin/no-such-page/")
    assert response.status == 404
    page.click(".oms-way-back a")
    page.wait_for_selector("#oms-dashboard")
    response = page.goto(reverse("admin:auth_user_changelist"))
    assert response.status == 403
    assert page.query_selector(".oms-way-back a")
    page.goto(reverse("admin:orders_order_import"))
    sample = page.get_attribute("a#sample-file", "href")
    answer = page.request.get(sample)
    assert answer.ok and answer.headers["content-type"].startswith("text/csv")
    assert answer.text().startswith(
        Path(__file__)
        .resolve()
        .parents[2]
        .joinpath("docs", "sample_orders.csv")
        .read_text()[:40]
    )
    page.goto(reverse("admin:orders_order_export"))
    assert page.eval_on_selector(
        "select[name=format]", "e => e.options[e.selectedIndex].text"
    ).startswith("csv")


def run_action(page, path: str, action: str, rows: list[Shipment]) -> None:
    page.goto(path)
    for shipment in rows:
        page.check(f"input[name=_selected_action][value='{shipment.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.mark.django_db(transaction=True)
def test_warehouse_packs_ships_by_scanner_and_prints_a_long_label(
    page, shot, role_user, floor
):
    role_user("wendy", WAREHOUSE, name="Wendy Okafor")
    login(page, "wendy")
    width = page.viewport_size["width"]
    pick_list = floor["pick_list"]
    shipments = list(Shipment.objects.filter(pick_list=pick_list).order_by("number"))

    # 5: the pick list page prints and leads to its shipments.
    page.goto(reverse("admin:fulfillment_picklist_change", args=[pick_list.pk]))
    assert_fits(page)
    page.click(f"a[href$='?pick_list={pick_list.pk}']")
    page.wait_for_selector("#result_list")
    assert all(s.number in page.inner_text("#result_list") for s in shipments)

    # 6: Mark packed takes a weight per shipment, defaulted from the products.
    run_action(page, page.url, "mark_packed", shipments)
    weights = page.query_selector_all("input[name$=weight_kg]")
    assert len(weights) == 2 and float(weights[0].input_value()) == 1.2
    assert_fits(page)
    page.click("input[type=submit].default")
    page.wait_for_selector(".messagelist")
    assert set(
        Shipment.objects.filter(pick_list=pick_list).values_list("status", flat=True)
    ) == {"packed"}

    # 4: scanning into row 1 moves to row 2 instead of sending the form; an
    # error keeps every entry and names its row; nothing ships until all do.
    run_action(
        page, reverse("admin:fulfillment_shipment_changelist"), "ship", shipments
    )
    page.fill("input[name=ship-0-tracking_number]", "1ZSCAN0001")
    page.press("input[name=ship-0-tracking_number]", "Enter")
    assert page.evaluate("document.activeElement.name") == "ship-1-tracking_number"
    page.click("input[type=submit][value=Ship]")
    page.wait_for_selector("tr.errors")
    shot(page, "ship-form-error")
    assert page.input_value("input[name=ship-0-tracking_number]") == "1ZSCAN0001"
    assert shipments[1].number in page.inner_text("tr.errors")
    assert_fits(page)
    assert not Shipment.objects.filter(tracking_number="1ZSCAN0001").exists()
    page.fill("input[name=ship-1-tracking_number]", "1ZSCAN0002")
    page.click("input[type=submit][value=Ship]")
    page.wait_for_selector(".messagelist")
    assert Shipment.objects.filter(tracking_number__startswith="1ZSCAN").count() == 2

    # 1: the label of a long business address prints every line.
    shipped = floor["shipped"]
    answer = page.request.get(
        reverse(
            "admin:fulfillment_picklist_documents",
            args=[shipped.pick_list_id, "labels"],
        )
    )
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(answer.body())).pages[0].extract_text()
    flat = " ".join(text.split())
    for line in (
        LONG_ADDRESS.company,
        LONG_ADDRESS.address2,
        "MOUNTAIN VIEW",
        "94043",
    ):
        assert " ".join(line.split()).upper() in flat.upper(), line
    if width == 1400:
        SCREENSHOTS.mkdir(exist_ok=True)
        pdf = SCREENSHOTS / "label-long-address.pdf"
        pdf.write_bytes(answer.body())
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "100",
                "-singlefile",
                str(pdf),
                str(pdf.with_suffix("")),
            ],
            check=True,
            timeout=60,
        )
        pdf.unlink()
