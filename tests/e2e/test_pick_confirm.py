"""A pick list confirmed by scanning, driven by the keyboard like a barcode
scanner (fast keystrokes, Enter) at 1024×768: bin then item per line, a
wrong bin, a wrong item, an over-pick and a 2* multiple refused or counted,
a short pick (F8), and the confirmation (F9) shipping the short short."""

import pytest

from fulfillment.models import PickScan, Shipment
from fulfillment.services.picking import pick_lists_create
from inventory.models import Location, Product, StockLevel
from inventory.services import stock_receive
from oms.roles import WAREHOUSE
from orders.addresses import Address
from orders.models import Channel, Customer
from orders.services.orders import LineInput, order_create
from tests.e2e.conftest import login


@pytest.fixture
def viewport():
    """A 1024 × 768 screen on the picking cart."""
    return {"width": 1024, "height": 768}


@pytest.fixture
def pick_list(db):
    """One order, 1 × TEE-1 (bin A-01), 2 × TEE-2 (bin A-02), 3 × TEE-3
    (bin B-01), on a pick list of a location confirming picks."""
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="ada@example.com", name="Ada Lovelace")
    location = Location.objects.create(
        code="RNO", name="Reno", country="US", confirm_picks=True
    )
    products = [
        Product.objects.create(
            sku=f"TEE-{n}", name=f"Tee {n}", barcode=f"400000000001{n}", weight_g=150
        )
        for n in range(1, 4)
    ]
    for product, bin_code in zip(products, ["A-01", "A-02", "B-01"], strict=True):
        stock_receive(product=product, location=location, quantity=10, actor=None)
        StockLevel.objects.filter(product=product).update(bin=bin_code)
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
    return pick_lists_create(order_ids=[order.pk], actor=None).pick_lists[0]


def scanner(page, code: str) -> None:
    """Type a code as a scanner does (a few ms per key) and press Enter."""
    page.locator("#pick-scan").press_sequentially(code, delay=4)
    page.keyboard.press("Enter")


def feedback(page, kind: str, text: str) -> None:
    page.wait_for_selector(f"#pick-feedback.{kind}:has-text({text!r})")


@pytest.mark.django_db(transaction=True)
def test_confirm_picks_by_scanning_with_refusals_and_a_short(
    session, role_user, pick_list, shot
):
    role_user("pia", WAREHOUSE, "Pia Picker")
    page = session().new_page()
    login(page, "pia")
    page.goto(f"/admin/fulfillment/picklist/{pick_list.pk}/change/")
    page.click("a[data-link=confirm-picks]")
    page.wait_for_selector("#pick-scan:focus")
    # The page draws the list from the server's answer: wait for it.
    page.wait_for_selector("#pick-progress:has-text('0 of 6 units picked')")

    scanner(page, "TEE-1")
    feedback(page, "refused", "Scan bin A-01 first")
    scanner(page, "A-01")
    feedback(page, "ok", "Bin A-01")
    scanner(page, "4000000000011")
    feedback(page, "ok", "1 of 1")
    scanner(page, "TEE-1")
    feedback(page, "refused", "Too many TEE-1")
    scanner(page, "A-02")
    scanner(page, "TEE-3")
    feedback(page, "refused", "Wrong bin")
    scanner(page, "MUG-9")
    feedback(page, "refused", "Wrong item")
    shot(page, "pickconfirm-1-refused")
    scanner(page, "2*TEE-2")
    feedback(page, "ok", "2 of 2")
    scanner(page, "B-01")
    scanner(page, "2*TEE-3")
    feedback(page, "ok", "2 of 3")
    assert "current" in page.get_attribute("#pick-lines tr[data-sku=TEE-3]", "class")

    page.keyboard.press("F8")
    feedback(page, "info", "marked short")
    page.wait_for_selector("#pick-finish:focus")
    assert page.inner_text("#pick-progress") == "5 of 6 units picked, 1 short"
    shot(page, "pickconfirm-2-short")
    page.keyboard.press("F9")

    feedback(page, "ok", "confirmed")
    shot(page, "pickconfirm-3-confirmed")
    shipment = Shipment.objects.get(pick_list=pick_list)
    assert sorted((sl.order_line.sku, sl.quantity) for sl in shipment.lines.all()) == [
        ("TEE-1", 1),
        ("TEE-2", 2),
        ("TEE-3", 2),
    ]
    rest = Shipment.objects.exclude(pk=shipment.pk).get()
    assert rest.status == "pending"
    assert [(sl.order_line.sku, sl.quantity) for sl in rest.lines.all()] == [
        ("TEE-3", 1)
    ]
    scans = PickScan.objects.filter(pick_list=pick_list)
    assert scans.filter(accepted=False).count() == 4
    assert sum(s.quantity for s in scans.filter(kind="item", accepted=True)) == 5
    assert {s.user.username for s in scans} == {"pia"}
