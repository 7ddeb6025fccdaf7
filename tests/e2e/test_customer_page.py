"""Journey on a phone: a customer follows the link in the shipped e-mail, sees
the carrier's problem and the new delivery date, changes the address of
another order before it is packed, starts a return of a delivered order and
downloads its label once customer service approved it; a tampered or expired
link is a plain 404."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from fulfillment.models import Carrier, Shipment, TrackingEvent
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from fulfillment.services.tracking import order_deliver_shipments, tracking_event_record
from inventory.models import Location, Product
from inventory.services import stock_receive
from orders.addresses import Address
from orders.models import Channel, Customer, Order, OrderEvent
from orders.services.orders import LineInput, order_create
from returns.models import ReturnRequest
from returns.services.returns import return_approve

LINK = re.compile(r"https?://\S+/o/[^/\s]+/")
# The shop's logo, on the shop's own host (answered by the test's browser).
LOGO = "https://cdn.acme.example/brand/logo.svg"
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    '<rect width="120" height="40" fill="#0b7a53"/></svg>'
)


@pytest.fixture
def viewport() -> dict:
    """A phone: the page is built for it first."""
    return {"width": 390, "height": 844}


@pytest.fixture
def shop(db, settings, live_server):
    settings.OMS_PUBLIC_URL = live_server.url
    channel = Channel.objects.create(
        code="acme",
        name="Acme web",
        display_name="Acme Outdoor",
        logo_url=LOGO,
        accent_colour="#0b7a53",
        support_email="help@acme.example",
    )
    customer = Customer.objects.create(email="zoe@example.com", name="Zoë Adams")
    location = Location.objects.create(code="RNO", name="Reno", country="US")
    carrier = Carrier.objects.create(
        code="ups", name="UPS", tracking_url_template="https://ups.example/{tracking}"
    )
    product = Product.objects.create(sku="HOO-OAT-L", name="Hoodie, oat, L")
    stock_receive(product=product, location=location, quantity=20, actor=None)

    def place(reference: str) -> Order:
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

    def ship(order: Order, tracking: str) -> Shipment:
        pick_lists_create(order_ids=[order.pk], actor=None)
        shipment = Shipment.objects.get(order=order)
        shipment_pack(shipment=shipment, actor=None)
        shipment_ship(
            shipment=shipment, actor=None, carrier=carrier, tracking_number=tracking
        )
        return Shipment.objects.get(pk=shipment.pk)

    return place, ship


def _link(order: Order, kind: str) -> str:
    """The order page's address in the e-mail of this kind, as sent."""
    messages = [
        m
        for m in mail.outbox
        if m.extra_headers.get("X-OMS-Email", "").startswith(
            f"email.{kind}:{order.pk}:"
        )
    ]
    assert messages, f"no {kind} e-mail for {order.number}"
    found = LINK.search(messages[-1].body)
    assert found, messages[-1].body
    return found.group(0)


@pytest.mark.django_db(transaction=True)
def test_customer_tracks_changes_returns_and_downloads_label(session, shot, shop):
    place, ship = shop
    travelling, waiting, arrived = place("A-1"), place("A-2"), place("A-3")

    # The first order ships; the carrier reports a problem and a later date.
    shipment = ship(travelling, "1ZTRAVEL")
    now = timezone.now()
    tracking_event_record(
        shipment=shipment,
        status=TrackingEvent.Status.IN_TRANSIT,
        occurred_at=now - timedelta(hours=6),
        place="Memphis, TN",
        estimated_delivery=timezone.localdate() + timedelta(days=1),
        actor=None,
    )
    new_eta = timezone.localdate() + timedelta(days=3)
    tracking_event_record(
        shipment=shipment,
        status=TrackingEvent.Status.EXCEPTION,
        occurred_at=now - timedelta(hours=1),
        place="Austin, TX",
        description="Recipient not available",
        exception_reason="address",
        estimated_delivery=new_eta,
        actor=None,
    )

    watched = session()
    page = watched.new_page()
    page.route(
        "https://cdn.acme.example/**",
        lambda route: route.fulfill(content_type="image/svg+xml", body=LOGO_SVG),
    )
    page.goto(_link(travelling, "order_shipped"))
    page.wait_for_selector("#status")
    # The logo's host is the one outside image source the page's policy allows.
    page.wait_for_function(
        "() => { const logo = document.querySelector('header img');"
        " return logo && logo.complete && logo.naturalWidth > 0; }"
    )
    assert not watched.csp_violations
    refused = page.evaluate(
        """() => new Promise((resolve) => {
          const image = new Image();
          image.onload = () => resolve(false);
          image.onerror = () => resolve(true);
          image.src = "https://tracker.example/pixel.png";
        })"""
    )
    assert refused
    page.wait_for_timeout(200)
    assert any("(img-src)" in text for text in watched.csp_violations)
    watched.csp_violations.clear()  # provoked here; the session's check goes on
    shot(page, "customer-1-exception")
    problem = page.inner_text(".problem")
    assert "The carrier could not deliver to the address." in problem
    assert "What happens next" in problem
    eta_text = page.inner_text(".eta")
    assert new_eta.strftime("%B") in eta_text and str(new_eta.day) in eta_text
    assert "Memphis, TN" in page.inner_text(".scans")
    assert page.get_attribute(".shipment a.button", "href") == (
        "https://ups.example/1ZTRAVEL"
    )
    assert "Acme Outdoor" in page.inner_text("header")
    assert "1 Main St" not in page.content()

    # The second order is not packed yet: the customer moves it to Dallas.
    page.goto(_link(waiting, "order_received"))
    page.click("#delivery summary")
    page.fill("#id_ship_name", "Zoë Adams")
    page.fill("#id_ship_address1", "2 Elm St")
    page.fill("#id_ship_city", "Dallas")
    page.fill("#id_ship_region", "TX")
    page.fill("#id_ship_postcode", "75201")
    page.select_option("#id_ship_country", "US")
    shot(page, "customer-2-change-address")
    page.click("#delivery-form button[type=submit]")
    page.wait_for_selector("#done")
    assert "delivery details are changed" in page.inner_text("#done")
    waiting.refresh_from_db()
    assert (waiting.ship_city, waiting.ship_postcode) == ("Dallas", "75201")
    change = waiting.events.filter(kind=OrderEvent.Kind.UPDATED).first()
    assert change.data["by"] == "customer" and change.data["client_address"]
    assert "by the customer" in change.message

    # The third order arrived: the customer sends one hoodie back.
    ship(arrived, "1ZARRIVE")
    order_deliver_shipments(order=arrived, actor=None)
    page.goto(_link(arrived, "order_delivered"))
    page.click("#returns summary")
    line = arrived.lines.get()
    page.select_option(f"#id_quantity_{line.pk}", "1")
    page.select_option(f"#id_reason_{line.pk}", "does_not_fit")
    page.fill("#id_note", "A size too big")
    shot(page, "customer-3-return")
    page.click("#return-form button[type=submit]")
    page.wait_for_selector("#done")
    rma = ReturnRequest.objects.get(order=arrived)
    assert (rma.status, rma.customer_note) == ("requested", "A size too big")
    assert not page.query_selector("text=Download the return label")

    # Customer service approves it; the page now offers the label.
    return_approve(return_request=rma, actor=None)
    page.reload()
    with page.expect_download() as download_info:
        page.click("text=Download the return label")
    download = download_info.value
    assert download.suggested_filename.endswith(f"{rma.number}.pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
    shot(page, "customer-4-label")


@pytest.mark.django_db(transaction=True)
def test_tampered_and_expired_links_are_the_same_404(session, shop, settings):
    place, ship = shop
    order = place("B-1")
    ship(order, "1ZOLD")
    order_deliver_shipments(order=order, actor=None)
    link = _link(order, "order_delivered")
    page = session().new_page()

    response = page.goto(link)
    assert response.status == 200

    tampered = link[:-2] + ("A" if link[-2] != "A" else "B") + "/"
    response = page.goto(tampered)
    assert response.status == 404
    assert "This link does not work" in page.inner_text("main")
    assert response.headers["x-robots-tag"].startswith("noindex")

    settings.OMS_CUSTOMER_LINK_DAYS = 30
    Shipment.objects.filter(order=order).update(
        delivered_at=timezone.now() - timedelta(days=31)
    )
    response = page.goto(link)
    assert response.status == 404
    assert "This link does not work" in page.inner_text("main")
