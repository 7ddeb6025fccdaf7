"""Journey: customer service finds an order by e-mail, changes its address
before packing, opens a return on a shipped order; the warehouse receives
it; a manager approves the refund."""

import pytest

from fulfillment.models import Carrier, Shipment
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from inventory.models import Location, Product
from inventory.services import stock_receive
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE
from orders.addresses import Address
from orders.models import Channel, Customer, Order
from orders.services.orders import LineInput, order_create
from returns.models import Refund, ReturnRequest
from tests.e2e.conftest import login


@pytest.fixture
def customer_orders(db):
    channel = Channel.objects.create(code="web", name="Web shop")
    customer = Customer.objects.create(email="zoe@example.com", name="Zoë Adams")
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    carrier = Carrier.objects.create(
        code="ups", name="UPS", tracking_url_template="https://ups.example/{tracking}"
    )
    product = Product.objects.create(sku="HOO-OAT-L", name="Hoodie, oat, L")
    stock_receive(product=product, location=location, quantity=10, actor=None)

    def place(reference):
        return order_create(
            channel=channel,
            customer=customer,
            external_id=reference,
            address=Address(
                name="Zoë Adams",
                address1="1 Main St",
                city="Austin",
                region="TX",
                postcode="78701",
                country="US",
            ),
            lines=[LineInput(product=product, quantity=2, unit_price=79)],
            actor=None,
        )

    waiting, delivered = place("WEB-1"), place("WEB-2")
    pick_lists_create(order_ids=[delivered.pk], actor=None)
    for shipment in Shipment.objects.filter(order=delivered):
        shipment_pack(shipment=shipment, actor=None)
        shipment_ship(
            shipment=shipment, actor=None, carrier=carrier, tracking_number="1ZRET"
        )
    return waiting, Order.objects.get(pk=delivered.pk)


@pytest.mark.django_db(transaction=True)
def test_service_edits_opens_a_return_warehouse_receives_manager_refunds(
    session, shot, role_user, customer_orders
):
    waiting, shipped = customer_orders
    role_user("cleo", CUSTOMER_SERVICE)
    role_user("wendy", WAREHOUSE)
    role_user("max", MANAGER)

    def signed_in(username):
        page = session().new_page()
        login(page, username)
        return page

    # Customer service finds the orders by e-mail, in any letter case.
    cleo = signed_in("cleo")
    cleo.goto("/admin/orders/order/")
    cleo.fill("#searchbar", "ZOE@EXAMPLE.COM")
    cleo.press("#searchbar", "Enter")
    cleo.wait_for_selector("#result_list")
    listing = cleo.inner_text("#result_list")
    assert waiting.number in listing and shipped.number in listing
    shot(cleo, "service-1-search")

    # ... changes the address of the one not yet packed.
    cleo.click(f"text={waiting.number}")
    cleo.fill("#id_ship_city", "Dallas")
    cleo.fill("#id_ship_postcode", "75201")
    cleo.click("input[name=_continue]")
    cleo.wait_for_selector(".messagelist, .errornote")
    assert not cleo.query_selector(".errornote"), cleo.inner_text("#content")
    cleo.wait_for_selector(".messagelist")
    shot(cleo, "service-2-address-changed")
    waiting.refresh_from_db()
    assert (waiting.ship_city, waiting.ship_postcode) == ("Dallas", "75201")
    assert waiting.events.filter(kind="updated", user__username="cleo").exists()

    # ... and opens a return on the shipped one, then approves it.
    cleo.goto(f"/admin/orders/order/{shipped.pk}/change/")
    cleo.click("a[data-step=open_return]")
    line = shipped.lines.get()
    cleo.fill(f"input[name=quantity_{line.pk}]", "1")
    cleo.select_option(f"select[name=reason_{line.pk}]", "does_not_fit")
    shot(cleo, "service-3-open-return")
    cleo.click("#return-step-form input[type=submit]")
    cleo.wait_for_selector(".messagelist")
    rma = ReturnRequest.objects.get(order=shipped)
    cleo.click("a[data-step=approve]")
    cleo.click("#return-step-form input[type=submit]")
    cleo.wait_for_selector(".messagelist")
    assert ReturnRequest.objects.get(pk=rma.pk).status == "approved"

    # The warehouse receives it by its RMA number and inspects it.
    wendy = signed_in("wendy")
    wendy.goto("/admin/returns/returnrequest/scan/")
    wendy.fill("input[name=code]", rma.number)
    wendy.press("input[name=code]", "Enter")
    wendy.wait_for_selector("#return-step-form")
    wendy.click("#return-step-form input[type=submit]")  # receive the 1 expected
    wendy.wait_for_selector("select[name^=condition_]")
    wendy.select_option("select[name^=condition_]", "resellable")
    wendy.select_option("select[name^=location_]", label="RNO · Reno")
    shot(wendy, "warehouse-5-inspect-return")
    wendy.click("#return-step-form input[type=submit]")
    wendy.wait_for_selector(".messagelist")
    assert ReturnRequest.objects.get(pk=rma.pk).status == "inspected"

    # A manager refunds it, with the payment system's reference.
    max_ = signed_in("max")
    max_.goto(f"/admin/returns/returnrequest/{rma.pk}/change/")
    max_.click("a[data-step=refund]")
    max_.fill("input[name=external_reference]", "re_3PayRef")
    shot(max_, "manager-1-refund")
    max_.click("#return-step-form input[type=submit]")
    max_.wait_for_selector(".messagelist")
    shot(max_, "manager-2-refunded")
    refund = Refund.objects.get(order=shipped)
    assert (refund.status, refund.external_reference) == ("approved", "re_3PayRef")
    assert str(refund.amount) == "79.00"
    assert refund.approved_by.username == "max"
