"""Journeys at the pack station, driven by the keyboard like a barcode
scanner (fast keystrokes, Enter) at 1024×768: a 3-line shipment with a
wrong item, an over-scan and a 3* multiple packed and shipped with its
label; a ship-short, asked first and undone; a refresh in the middle of a
shipment; and the scanner forgiven: reads back to back kept apart, a double
read of the last item refused as an over-scan (never a weight), Enter on
weight and parcels moving on quietly, the carrier's service chosen, another
shipment's slip read into the item box opening it after asking."""

import io

import pytest
from pypdf import PdfReader

from fulfillment.models import Carrier, PackClaim, PackScan, Shipment
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


def read(page, code: str) -> None:
    """Type a code into whatever has the focus, as a scanner does (5 ms a
    key), and Enter; reads follow each other without a pause."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def count_feedback(page) -> None:
    """Keep every feedback the station gives (ok, refused, info) in order."""
    page.evaluate(
        """() => {
          window.omsFeedback = [];
          document.getElementById("packstation").addEventListener(
            "oms-scan-feedback", (event) => window.omsFeedback.push(event.detail));
        }"""
    )


def refusals(page) -> list[str]:
    return page.evaluate(
        "() => window.omsFeedback.filter((f) => f.kind === 'refused')"
        ".map((f) => f.text)"
    )


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
    # Enter moves from the weight to the parcels, then to the tracking box.
    page.keyboard.press("Enter")
    page.wait_for_selector("#pack-parcels:focus")
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
    page.wait_for_selector("#pack-confirm-yes:focus")
    page.keyboard.press("Enter")

    feedback(page, "info", "Shipping short")
    page.wait_for_selector("#pack-weight:focus")
    shot(page, "packstation-4-ship-short")
    page.keyboard.press("Enter")
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


def second_shipment(shipment) -> Shipment:
    """Another order's shipment on a pick list: 1 × TEE-1."""
    product = Product.objects.get(sku="TEE-1")
    order = order_create(
        channel=shipment.order.channel,
        customer=shipment.order.customer,
        external_id="WEB-2",
        address=Address(
            name="Ada Lovelace", address1="1 Main St", city="Austin", country="US"
        ),
        lines=[LineInput(product=product, quantity=1, unit_price=10)],
        actor=None,
    )
    pick_lists_create(order_ids=[order.pk], actor=None)
    return Shipment.objects.get(order=order)


@pytest.mark.django_db(transaction=True)
def test_reads_back_to_back_count_apart_from_the_slip_on(session, role_user, shipment):
    page = open_station(session, role_user)
    count_feedback(page)

    # The slip and four items read without a pause: the first items reach
    # the page while the slip is still opening.
    read(page, shipment.number)
    read(page, "4000000000011")
    read(page, "4000000000012")
    read(page, "TEE-2")
    read(page, "4000000000013")

    page.wait_for_selector("#pack-progress:has-text('4 of 6 units scanned')")
    page.wait_for_selector("#item-scan:focus")
    # Two reads run together (the scanner's Enter lost between them).
    read(page, "TEE-34000000000013")

    page.wait_for_selector("#pack-progress:has-text('6 of 6 units scanned')")
    assert refusals(page) == []
    accepted = PackScan.objects.filter(shipment=shipment, kind="item", accepted=True)
    assert sorted(s.code for s in accepted) == [
        "4000000000011",
        "4000000000012",
        "4000000000013",
        "4000000000013",
        "TEE-2",
        "TEE-3",
    ]


@pytest.mark.django_db(transaction=True)
def test_double_read_of_the_last_item_is_an_over_scan_never_a_weight(
    session, role_user, shipment, shot
):
    page = open_station(session, role_user)
    read(page, shipment.number)
    page.wait_for_selector("#item-scan:focus")
    read(page, "TEE-1")
    read(page, "2*TEE-2")
    read(page, "2*TEE-3")
    feedback(page, "ok", "2 of 3")
    count_feedback(page)

    # The scanner reads the last item twice.
    read(page, "4000000000013")
    read(page, "4000000000013")

    feedback(page, "refused", "Over-scan")
    page.wait_for_selector("#pack-weight:focus")
    shot(page, "packstation-6-double-read")
    assert page.input_value("#pack-weight") == "900"
    assert page.inner_text("#pack-progress") == "6 of 6 units scanned"
    assert len(refusals(page)) == 1
    # An item read into the parcels box is scanned as an item: refused, and
    # the box keeps its count; nothing is packed.
    page.keyboard.press("Enter")
    page.wait_for_selector("#pack-parcels:focus")
    read(page, "4000000000012")
    page.wait_for_function("() => window.omsFeedback.length >= 3")
    assert "Over-scan" in refusals(page)[-1]
    assert page.input_value("#pack-parcels") == "1"
    shipment.refresh_from_db()
    assert shipment.status == "picking"
    refused = PackScan.objects.filter(shipment=shipment, accepted=False)
    assert [s.code for s in refused] == ["4000000000013", "4000000000012"]
    assert not PackScan.objects.filter(shipment=shipment, kind="pack").exists()


@pytest.mark.django_db(transaction=True)
def test_enter_on_weight_and_parcels_moves_on_quietly_and_the_service_is_kept(
    session, role_user, shipment
):
    Carrier.objects.filter(code="ups").update(services="Ground, Express")
    page = open_station(session, role_user)
    labels = capture_labels(page)
    read(page, shipment.number)
    page.wait_for_selector("#item-scan:focus")
    read(page, "TEE-1")
    read(page, "2*TEE-2")
    read(page, "3*TEE-3")
    page.wait_for_selector("#pack-weight:focus")
    count_feedback(page)

    read(page, "1.2 kg")  # a keyboard scale types the weight and Enter
    page.wait_for_selector("#pack-parcels:focus")
    read(page, "2")
    page.wait_for_selector("#pack-tracking:focus")
    assert refusals(page) == []
    assert page.evaluate(
        "() => [...document.querySelectorAll('#pack-service option')]"
        ".map((o) => o.value)"
    ) == ["Ground", "Express"]
    page.select_option("#pack-service", "Express")
    page.focus("#pack-tracking")
    read(page, "1ZEXPRESS")

    feedback(page, "ok", "shipped")
    wait_for_label(page, labels)
    assert refusals(page) == []
    shipment.refresh_from_db()
    assert (shipment.status, shipment.service, shipment.packages) == (
        "shipped",
        "Express",
        2,
    )
    assert shipment.weight_g == 1200


@pytest.mark.django_db(transaction=True)
def test_item_missing_asks_first_and_can_be_undone_until_packed(
    session, role_user, shipment, shot
):
    page = open_station(session, role_user)
    read(page, shipment.number)
    page.wait_for_selector("#item-scan:focus")
    read(page, "TEE-1")
    feedback(page, "ok", "1 of 1")

    page.keyboard.press("F8")
    page.wait_for_selector("#pack-confirm-yes:focus")
    assert "Missing: 2 × TEE-2, 3 × TEE-3" in page.inner_text("#pack-confirm-text")
    shot(page, "packstation-7-ship-short-asked")
    page.keyboard.press("Escape")
    page.wait_for_selector("#item-scan:focus")
    assert Shipment.objects.filter(order=shipment.order).count() == 1

    page.keyboard.press("F8")
    page.wait_for_selector("#pack-confirm-yes:focus")
    page.keyboard.press("Enter")
    feedback(page, "info", "Shipping short")
    page.wait_for_selector("#pack-unshort")
    assert Shipment.objects.filter(order=shipment.order).count() == 2

    page.click("#pack-unshort")

    feedback(page, "info", "Ship-short undone")
    page.wait_for_selector("#item-scan:focus")
    assert page.inner_text("#pack-progress") == "1 of 6 units scanned"
    assert page.is_hidden("#pack-short")
    assert Shipment.objects.filter(order=shipment.order).count() == 1
    assert sorted(
        (line.order_line.sku, line.quantity) for line in shipment.lines.all()
    ) == [("TEE-1", 1), ("TEE-2", 2), ("TEE-3", 3)]


@pytest.mark.django_db(transaction=True)
def test_slip_read_into_the_item_box_opens_that_shipment_after_asking(
    session, role_user, shipment, shot
):
    other = second_shipment(shipment)
    page = open_station(session, role_user)
    read(page, shipment.number)
    page.wait_for_selector("#item-scan:focus")
    read(page, "TEE-1")
    feedback(page, "ok", "1 of 1")
    count_feedback(page)

    read(page, other.number)

    page.wait_for_selector("#pack-confirm-yes:focus")
    assert f"Open {other.number}?" in page.inner_text("#pack-confirm-text")
    assert f"{shipment.number} stays as it is" in page.inner_text("#pack-confirm")
    assert "put it aside" not in page.inner_text("#packstation")
    shot(page, "packstation-8-slip-in-item-box")
    page.keyboard.press("Escape")  # stay: the next read of that slip asks again
    page.wait_for_selector("#item-scan:focus")
    read(page, other.number)
    page.wait_for_selector("#pack-confirm-yes:focus")
    page.keyboard.press("Enter")

    page.wait_for_selector(f"#pack-number:has-text({other.number!r})")
    assert refusals(page) == []
    assert page.inner_text("#pack-progress") == "0 of 1 units scanned"
    accepted = PackScan.objects.filter(shipment=shipment, kind="item", accepted=True)
    assert accepted.count() == 1
    assert not PackScan.objects.filter(accepted=False).exists()


@pytest.mark.django_db(transaction=True)
def test_slip_read_twice_into_the_item_box_opens_it(session, role_user, shipment):
    other = second_shipment(shipment)
    page = open_station(session, role_user)
    read(page, shipment.number)
    page.wait_for_selector("#item-scan:focus")

    read(page, other.number)
    page.wait_for_selector("#pack-confirm-yes:focus")
    read(page, other.number)  # reading it again is the answer

    page.wait_for_selector(f"#pack-number:has-text({other.number!r})")
    assert page.is_hidden("#pack-confirm")
    assert (
        PackClaim.objects.get(shipment=shipment).station
        == PackClaim.objects.get(shipment=other).station
    )
