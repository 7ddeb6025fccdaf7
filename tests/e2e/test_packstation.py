"""Journeys at the pack station, driven by the keyboard like a barcode
scanner (fast keystrokes, Enter) at 1024×768: a 3-line shipment with a
wrong item, an over-scan and a 3* multiple packed and shipped with its
label; a ship-short; a refresh in the middle of a shipment."""

import io

import pytest
from pypdf import PdfReader

from fulfillment.models import Carrier, PackScan, Shipment
from fulfillment.services.picking import pick_lists_create
from inventory.models import Location, Product
from inventory.services import stock_receive
from oms.roles import WAREHOUSE
from orders.addresses import Address
from orders.models import Channel, Customer
from orders.services.orders import LineInput, order_create
from tests.e2e.conftest import login

STATION = "/admin/fulfillment/packclaim/"


@pytest.fixture
def viewport():
    """The station's screen: a 1024 × 768 laptop at the packing bench."""
    return {"width": 1024, "height": 768}


@pytest.fixture
def shipment(db):
    """A shipment being picked: 1 × TEE-1, 2 × TEE-2, 3 × TEE-3."""
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="ada@example.com", name="Ada Lovelace")
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    Carrier.objects.create(
        code="ups", name="UPS", tracking_url_template="https://ups.example/{tracking}"
    )
    products = [
        Product.objects.create(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"400000000001{n}", weight_g=150
        )
        for n in range(1, 4)
    ]
    for product in products:
        stock_receive(product=product, location=location, quantity=10, actor=None)
    order = order_create(
        channel=channel,
        customer=customer,
        external_id="WEB-1",
        address=Address(
            name="Ada Lovelace", address1="1 Main St", city="Austin", country="US"
        ),
        lines=[
            LineInput(product=product, quantity=n, unit_price=10)
            for n, product in enumerate(products, start=1)
        ],
        actor=None,
    )
    pick_lists_create(order_ids=[order.pk], actor=None)
    return Shipment.objects.get(order=order)


def scanner(page, selector: str, code: str) -> None:
    """Type a code as a scanner does (a few ms per key) and press Enter."""
    page.locator(selector).press_sequentially(code, delay=4)
    page.keyboard.press("Enter")


def feedback(page, kind: str, text: str) -> None:
    page.wait_for_selector(f"#pack-feedback.{kind}:has-text({text!r})")


def capture_labels(page) -> dict[str, bytes]:
    """Keep every label the station prints (it opens in a new tab)."""
    labels: dict[str, bytes] = {}

    def keep(route):
        response = route.fetch()
        labels[route.request.url] = response.body()
        route.fulfill(response=response)

    page.context.route("**/label/", keep)
    return labels


def wait_for_label(page, labels) -> bytes:
    for _ in range(200):
        if labels:
            return next(iter(labels.values()))
        page.wait_for_timeout(100)
    raise AssertionError("the station printed no label")


def open_station(session, role_user):
    role_user("pat", WAREHOUSE, "Pat Packer")
    page = session().new_page()
    login(page, "pat")
    page.goto(STATION)
    page.wait_for_selector("#slip-scan:focus")
    return page


@pytest.mark.django_db(transaction=True)
def test_pack_three_lines_with_refusals_and_a_multiple_then_ship_and_print(
    session, role_user, shipment, shot
):
    page = open_station(session, role_user)
    labels = capture_labels(page)

    scanner(page, "#slip-scan", shipment.number)
    page.wait_for_selector("#item-scan:focus")
    scanner(page, "#item-scan", "4000000000011")
    feedback(page, "ok", "TEE-1")
    scanner(page, "#item-scan", "MUG-9")
    feedback(page, "refused", "not in shipment")
    shot(page, "packstation-1-wrong-item")
    scanner(page, "#item-scan", "TEE-1")
    feedback(page, "refused", "Too many TEE-1")
    scanner(page, "#item-scan", "TEE-2")
    scanner(page, "#item-scan", "4000000000012")
    scanner(page, "#item-scan", "3*TEE-3")
    page.wait_for_selector("#pack-weight:focus")
    assert page.input_value("#pack-weight") == "900"
    assert page.inner_text("#pack-progress") == "6 of 6 units scanned"
    shot(page, "packstation-2-all-scanned")
    # Enter packs; the manual carrier first asks for the tracking by scan.
    page.keyboard.press("Enter")
    page.wait_for_selector("#pack-tracking:focus")
    scanner(page, "#pack-tracking", "1ZPACK001")

    feedback(page, "ok", "shipped")
    label = PdfReader(io.BytesIO(wait_for_label(page, labels)))
    page.wait_for_selector("#slip-scan:focus")
    shot(page, "packstation-3-shipped")
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    assert shipment.tracking_number == "1ZPACK001"
    assert "1ZPACK001" in label.pages[0].extract_text()
    scans = PackScan.objects.filter(shipment=shipment, kind="item")
    assert scans.filter(accepted=False).count() == 2
    assert sum(s.quantity for s in scans.filter(accepted=True)) == 6
    assert {s.user.username for s in scans} == {"pat"}


@pytest.mark.django_db(transaction=True)
def test_item_missing_ships_what_is_there(session, role_user, shipment, shot):
    page = open_station(session, role_user)
    labels = capture_labels(page)
    scanner(page, "#slip-scan", shipment.number)
    page.wait_for_selector("#item-scan:focus")
    scanner(page, "#item-scan", "TEE-1")
    scanner(page, "#item-scan", "2*TEE-3")
    feedback(page, "ok", "2 of 3")

    page.keyboard.press("F8")

    feedback(page, "info", "Shipping short")
    page.wait_for_selector("#pack-weight:focus")
    shot(page, "packstation-4-ship-short")
    page.keyboard.press("Enter")
    page.wait_for_selector("#pack-tracking:focus")
    scanner(page, "#pack-tracking", "1ZSHORT")
    feedback(page, "ok", "shipped")
    wait_for_label(page, labels)
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    assert sorted(
        (line.order_line.sku, line.quantity) for line in shipment.lines.all()
    ) == [("TEE-1", 1), ("TEE-3", 2)]
    rest = Shipment.objects.exclude(pk=shipment.pk).get(order=shipment.order)
    assert rest.status == "pending"
    assert sorted(
        (line.order_line.sku, line.quantity) for line in rest.lines.all()
    ) == [("TEE-2", 2), ("TEE-3", 1)]


@pytest.mark.django_db(transaction=True)
def test_refresh_mid_shipment_keeps_the_count(session, role_user, shipment, shot):
    page = open_station(session, role_user)
    scanner(page, "#slip-scan", shipment.number)
    page.wait_for_selector("#item-scan:focus")
    scanner(page, "#item-scan", "2*TEE-2")
    feedback(page, "ok", "2 of 2")

    page.reload()

    feedback(page, "info", "still open here")
    page.wait_for_selector("#item-scan:focus")
    assert page.inner_text("#pack-progress") == "2 of 6 units scanned"
    shot(page, "packstation-5-after-refresh")
    scanner(page, "#item-scan", "TEE-2")
    feedback(page, "refused", "Too many TEE-2")
    accepted = PackScan.objects.filter(shipment=shipment, kind="item", accepted=True)
    assert sum(s.quantity for s in accepted) == 2
