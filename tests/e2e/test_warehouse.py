"""Journey: a warehouse user creates a pick list, downloads the pick list and
packing slips (PDF checked), packs, ships with a tracking number, and prints
labels."""

import io

import pytest
from pypdf import PdfReader

from fulfillment.models import Carrier, Shipment
from inventory.models import Location, Product
from inventory.services import stock_receive
from oms.roles import WAREHOUSE
from orders.addresses import Address
from orders.models import Channel, Customer, Order
from orders.services.orders import LineInput, order_create
from tests.e2e.conftest import login


@pytest.fixture
def allocated_orders(db):
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="ada@example.com", name="Ada Lovelace")
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    Carrier.objects.create(
        code="ups",
        name="UPS",
        tracking_url_template="https://ups.example/track/{tracking}",
    )
    products = [
        Product.objects.create(sku=f"SKU-{n}", name=f"Product {n}") for n in range(2)
    ]
    for product in products:
        stock_receive(product=product, location=location, quantity=10, actor=None)
    return [
        order_create(
            channel=channel,
            customer=customer,
            external_id=f"WEB-{n}",
            address=Address(
                name="Ada Lovelace", address1="1 Main St", city="Austin", country="US"
            ),
            lines=[LineInput(product=p, quantity=1, unit_price=10) for p in products],
            actor=None,
        )
        for n in range(2)
    ]


def run_action(page, path: str, action: str) -> None:
    page.goto(path)
    page.check("#action-toggle")
    page.select_option("select[name=action]", action)


def pdf_of(page, path: str, action: str) -> PdfReader:
    """Run a print action and read back the PDF the browser received (the
    response is captured on its way in, then shown as usual)."""
    run_action(page, path, action)
    captured: dict[str, bytes] = {}

    def keep_pdf(route):
        response = route.fetch()
        if "application/pdf" in response.headers.get("content-type", ""):
            captured["pdf"] = response.body()
        route.fulfill(response=response)

    page.route("**/admin/**", keep_pdf)
    page.click("button[name=index]")
    for _ in range(200):
        if "pdf" in captured:
            break
        page.wait_for_timeout(100)
    page.unroute("**/admin/**", keep_pdf)
    assert "pdf" in captured, f"{action} did not answer with a PDF"
    return PdfReader(io.BytesIO(captured["pdf"]))


@pytest.mark.django_db(transaction=True)
def test_warehouse_picks_packs_ships_and_prints(
    page, shot, role_user, allocated_orders
):
    role_user("wendy", WAREHOUSE)
    login(page, "wendy")

    run_action(page, "/admin/orders/order/?status=allocated", "create_pick_lists")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    shot(page, "warehouse-1-pick-list-created")
    assert set(Order.objects.values_list("status", flat=True)) == {"picking"}

    pick_list = pdf_of(page, "/admin/fulfillment/picklist/", "print_pick_lists")
    text = pick_list.pages[0].extract_text()
    assert "SKU-0" in text and "SKU-1" in text

    slips = pdf_of(page, "/admin/fulfillment/shipment/", "print_packing_slips")
    shipments = list(Shipment.objects.order_by("number"))
    assert len(slips.pages) == len(shipments) == 2
    assert shipments[0].order.number in "".join(p.extract_text() for p in slips.pages)

    run_action(page, "/admin/fulfillment/shipment/", "mark_packed")
    page.click("button[name=index]")
    page.wait_for_selector(
        "input[type=submit][value='Mark packed'], input[type=submit]"
    )
    shot(page, "warehouse-2-pack-form")
    page.click("input[type=submit].default")
    page.wait_for_selector(".messagelist")
    assert set(Shipment.objects.values_list("status", flat=True)) == {"packed"}

    run_action(page, "/admin/fulfillment/shipment/", "ship")
    page.click("button[name=index]")
    for index in range(2):
        page.select_option(f"select[name=ship-{index}-carrier]", label="UPS")
        page.fill(f"input[name=ship-{index}-tracking_number]", f"1ZTRACK{index}")
    shot(page, "warehouse-3-ship-form")
    page.click("input[type=submit][value=Ship]")
    page.wait_for_selector(".messagelist")
    shot(page, "warehouse-4-shipped")
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == [
        "1ZTRACK0",
        "1ZTRACK1",
    ]
    assert set(Order.objects.values_list("status", flat=True)) == {"shipped"}

    labels = pdf_of(page, "/admin/fulfillment/shipment/", "print_shipping_labels")
    assert len(labels.pages) == 2
    assert round(float(labels.pages[0].mediabox.width)) == 288
    assert "1ZTRACK" in labels.pages[0].extract_text()
