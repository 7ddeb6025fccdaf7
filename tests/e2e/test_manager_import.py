"""Journey: a manager imports a CSV file with preview and confirm, and sees
the new orders allocated."""

from pathlib import Path

import pytest

from inventory.models import Location, Product
from inventory.services import stock_receive
from oms.roles import MANAGER
from orders.models import Channel, Order
from tests.e2e.conftest import login

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample_orders.csv"


@pytest.fixture
def shop(db):
    Channel.objects.create(code="web", name="Web shop")
    Channel.objects.create(code="phone", name="Phone orders")
    locations = [
        Location.objects.create(code="RNO", name="Reno", country="US", ships_to="US"),
        Location.objects.create(code="BER", name="Berlin", country="DE", ships_to="DE"),
    ]
    for sku in ("TSH-BLK-M", "CAP-OLV-OS", "BTL-STL-OS", "HOO-OAT-L"):
        product = Product.objects.create(sku=sku, name=f"Product {sku}")
        for location in locations:
            stock_receive(product=product, location=location, quantity=10, actor=None)


@pytest.mark.django_db(transaction=True)
def test_manager_imports_a_csv_with_preview_and_confirm(page, shot, role_user, shop):
    role_user("maria", MANAGER)
    login(page, "maria")

    page.goto("/admin/orders/order/")
    page.click("a.import_link")
    page.set_input_files("#id_file", str(SAMPLE))
    shot(page, "import-1-upload")
    page.click("input[value='Check file']")

    page.wait_for_selector("#import-preview")
    assert "would import 3 orders (4 lines)" in page.inner_text("#import-job")
    assert "maria.schmidt@example.com" in page.inner_text("#import-preview")
    shot(page, "import-2-preview")
    assert Order.objects.count() == 0
    page.click("input[name=confirm]")

    page.wait_for_selector("#import-result")
    assert "imported 3 orders (4 lines)" in page.inner_text("#import-result")
    shot(page, "import-3-result")
    page.click("text=See the orders")

    page.wait_for_selector("#result_list")
    listing = page.inner_text("#result_list")
    for reference in ("WEB-50001", "WEB-50002", "PHO-50003"):
        assert reference in listing
    assert listing.count("Allocated") == 3
    shot(page, "import-4-orders")
    assert set(Order.objects.values_list("status", flat=True)) == {"allocated"}
