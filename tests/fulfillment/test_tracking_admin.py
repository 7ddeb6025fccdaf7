"""Tracking in the admin: the event form, the CSV upload, finding late and
troubled orders, the order page summary, webhook deliveries, and changes
to an order before it ships."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Shipment, TrackingEvent, WebhookDelivery
from fulfillment.services.packing import order_pack_shipments, shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from fulfillment.services.tracking import tracking_event_record
from oms.roles import CUSTOMER_SERVICE, WAREHOUSE, roles_setup
from orders.models import Order, OrderEvent
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def count_queries(client, address) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, address
    return len(captured)


@pytest.fixture
def warehouse_client(client):
    groups = roles_setup()
    worker = UserFactory(username="picker")
    worker.groups.add(groups[WAREHOUSE])
    client.force_login(worker)
    return client


@pytest.fixture
def make_shipped(shipped, stock):
    """make_shipped() → a shipped order's single shipment (a new product each)."""

    def make() -> Shipment:
        order = shipped([(ProductFactory(), 1)])
        return Shipment.objects.get(order=order)

    return make


def test_warehouse_records_an_exception_on_the_shipment_page(
    warehouse_client, make_shipped
):
    shipment = make_shipped()
    page = warehouse_client.get(url("fulfillment_shipment_change", shipment.pk))
    tracking_url = url("fulfillment_shipment_tracking", shipment.pk)
    assert tracking_url in page.content.decode()
    assert warehouse_client.get(tracking_url).status_code == 200

    response = warehouse_client.post(
        tracking_url,
        {
            "status": "exception",
            "exception_reason": "address",
            "occurred_at": "2026-03-02T09:00",
            "place": "Austin, TX",
            "description": "No such street",
            "estimated_delivery": "2026-03-06",
        },
        follow=True,
    )

    assert "is exception" in response.content.decode()
    shipment.refresh_from_db()
    assert (shipment.status, shipment.exception_reason) == ("exception", "address")
    assert shipment.estimated_delivery == date(2026, 3, 6)
    event = shipment.tracking_events.get()
    assert (event.source, event.description) == ("admin", "No such street")


def test_exception_without_reason_is_sent_back(warehouse_client, make_shipped):
    shipment = make_shipped()
    response = warehouse_client.post(
        url("fulfillment_shipment_tracking", shipment.pk),
        {"status": "exception", "occurred_at": "2026-03-02T09:00"},
    )
    assert response.status_code == 200
    assert "Say what went wrong." in response.content.decode()
    assert not TrackingEvent.objects.exists()


def test_customer_service_cannot_record_tracking(client, make_shipped):
    service = UserFactory(username="cs")
    service.groups.add(roles_setup()[CUSTOMER_SERVICE])
    client.force_login(service)
    shipment = make_shipped()
    response = client.get(url("fulfillment_shipment_tracking", shipment.pk))
    assert response.status_code == 403


def csv_upload(client, text: str, name="tracking.csv", content_type="text/csv"):
    return client.post(
        url("fulfillment_shipment_tracking_csv"),
        {"file": SimpleUploadedFile(name, text.encode(), content_type=content_type)},
        follow=True,
    )


def test_csv_upload_records_every_row(warehouse_client, make_shipped):
    first, second = make_shipped(), make_shipped()
    text = (
        "tracking number,status,time,place,description,estimated delivery\n"
        f"{first.tracking_number},in_transit,2026-03-02 09:00,Reno,Departed,"
        "2026-03-05\n"
        f"{second.tracking_number},delivered,2026-03-03 12:00,Austin,Porch,\n"
        f"{first.tracking_number},in_transit,2026-03-02 09:00,Reno,Departed,\n"
    )
    response = csv_upload(warehouse_client, text)
    assert "2 tracking events recorded, 1 already known and skipped." in (
        response.content.decode()
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.estimated_delivery) == ("in_transit", date(2026, 3, 5))
    assert second.status == "delivered"
    assert second.order.status == "delivered"


def test_csv_upload_with_bad_rows_lists_them_and_writes_nothing(
    warehouse_client, make_shipped
):
    shipment = make_shipped()
    text = (
        f"{shipment.tracking_number},in_transit,2026-03-02 09:00,,,\n"
        "UNKNOWN-1,in_transit,2026-03-02 09:00,,,\n"
    )
    response = csv_upload(warehouse_client, text)
    page = response.content.decode()
    assert "Nothing was recorded" in page
    assert "Line 2: no shipment has tracking number &#x27;UNKNOWN-1&#x27;." in page
    assert not TrackingEvent.objects.exists()

    response = csv_upload(warehouse_client, "x,teleported,soon\n")
    assert "Line 1: status &#x27;teleported&#x27; is not one of" in (
        response.content.decode()
    )


def test_csv_upload_refuses_other_files(warehouse_client):
    response = csv_upload(
        warehouse_client, "%PDF-1.7", name="label.pdf", content_type="application/pdf"
    )
    assert "Upload a .csv file" in response.content.decode()
    big = "x" * (2 * 1024 * 1024 + 1)
    assert "larger than 2 MB" in csv_upload(warehouse_client, big).content.decode()


def test_order_list_finds_an_order_by_tracking_number(admin_client, make_shipped):
    shipment, other = make_shipped(), make_shipped()
    response = admin_client.get(
        url("orders_order_changelist"), {"q": shipment.tracking_number, "list": "1"}
    )
    orders = list(response.context["cl"].result_list)
    assert orders == [shipment.order]
    assert other.order not in orders
    # Without list=1 the one hit opens the order.
    opened = admin_client.get(
        url("orders_order_changelist"), {"q": shipment.tracking_number}
    )
    assert opened.url == url("orders_order_change", shipment.order.pk)


def test_shipment_search_is_exact(admin_client, make_shipped):
    shipment = make_shipped()
    found = admin_client.get(
        url("fulfillment_shipment_changelist"), {"q": shipment.tracking_number}
    )
    assert list(found.context["cl"].result_list) == [shipment]
    partial = admin_client.get(
        url("fulfillment_shipment_changelist"), {"q": shipment.tracking_number[:-1]}
    )
    assert list(partial.context["cl"].result_list) == []


@pytest.fixture
def late_and_troubled(make_shipped):
    """An on-time, a late, a delivered-late and an exception shipment."""
    today = timezone.localdate()
    on_time, late, delivered, troubled = (make_shipped() for _ in range(4))
    now = timezone.now()
    tracking_event_record(
        shipment=on_time,
        status="in_transit",
        occurred_at=now,
        actor=None,
        estimated_delivery=today + timedelta(days=2),
    )
    tracking_event_record(
        shipment=late,
        status="in_transit",
        occurred_at=now - timedelta(days=3),
        actor=None,
        place="Reno, NV",
        estimated_delivery=today - timedelta(days=1),
    )
    tracking_event_record(
        shipment=delivered,
        status="in_transit",
        occurred_at=now - timedelta(days=3),
        actor=None,
        estimated_delivery=today - timedelta(days=2),
    )
    tracking_event_record(
        shipment=delivered, status="delivered", occurred_at=now, actor=None
    )
    tracking_event_record(
        shipment=troubled,
        status="exception",
        exception_reason="lost",
        description="Not scanned for 5 days",
        occurred_at=now,
        actor=None,
    )
    return on_time, late, delivered, troubled


def listed(client, name, **params) -> list:
    response = client.get(url(name), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_late_and_exception_filters_for_shipments(admin_client, late_and_troubled):
    on_time, late, delivered, troubled = late_and_troubled
    shipments = "fulfillment_shipment_changelist"
    assert listed(admin_client, shipments, late="yes") == [late]
    assert listed(admin_client, shipments, status__exact="exception") == [troubled]
    assert listed(admin_client, shipments, exception_reason="lost") == [troubled]


def test_late_and_exception_filters_for_orders(admin_client, late_and_troubled):
    on_time, late, delivered, troubled = late_and_troubled
    orders = "orders_order_changelist"
    assert listed(admin_client, orders, late="yes") == [late.order]
    assert listed(admin_client, orders, exception="yes") == [troubled.order]


def test_dashboard_links_lead_to_the_filtered_lists(admin_client, late_and_troubled):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "/admin/fulfillment/shipment/?late=yes" in page
    assert "/admin/fulfillment/shipment/?status__exact=exception" in page


def test_order_page_says_where_it_is_when_and_what_went_wrong(
    admin_client, late_and_troubled
):
    on_time, late, delivered, troubled = late_and_troubled
    page = admin_client.get(url("orders_order_change", late.order_id))
    html = page.content.decode()
    assert "Where it is" in html
    assert "In transit at Reno, NV" in html
    assert "1 day late" in html
    assert f'href="https://track.example/{late.tracking_number}"' in html

    html = admin_client.get(url("orders_order_change", troubled.order_id)).content
    assert "<strong>Lost: Not scanned for 5 days</strong>" in html.decode()


def test_order_page_queries_do_not_grow_with_shipments_and_events(
    admin_client, stock, place_order, user, carrier
):
    from tests.factories import LocationFactory

    product = ProductFactory()
    east = LocationFactory(code="EAST", priority=50)
    stock(product, 1)
    stock(product, 1, at=east)
    order = place_order([(product, 2)])
    pick_lists_create(order_ids=[order.pk], actor=user)
    first, second = Shipment.objects.order_by("number")
    for n, shipment in enumerate((first, second)):
        shipment_pack(shipment=shipment, actor=user)
        shipment_ship(
            shipment=shipment, actor=user, carrier=carrier, tracking_number=f"X{n}"
        )
    tracking_event_record(
        shipment=first, status="in_transit", occurred_at=T0, actor=None
    )
    # Once first: process-wide caches (content types, permissions) filled by
    # whichever test came before would otherwise change the first count.
    admin_client.get(url("orders_order_change", order.pk))
    few = count_queries(admin_client, url("orders_order_change", order.pk))
    for hours in range(1, 6):
        for shipment in (first, second):
            tracking_event_record(
                shipment=shipment,
                status="in_transit",
                occurred_at=T0 + timedelta(hours=hours),
                actor=None,
            )
    assert count_queries(admin_client, url("orders_order_change", order.pk)) == few


def test_webhook_delivery_list_queries_do_not_grow(admin_client, make_shipped, channel):
    def add(n):
        for _ in range(n):
            shipment = make_shipped()
            WebhookDelivery.objects.create(
                channel=channel,
                order=shipment.order,
                shipment=shipment,
                event="shipment.shipped",
                url="https://shop.example/hook",
                payload={},
                response_code=500,
                error="HTTP 500 Internal Server Error",
            )

    add(2)
    changelist = url("fulfillment_webhookdelivery_changelist")
    few = count_queries(admin_client, changelist)
    add(6)
    assert count_queries(admin_client, changelist) == few
    page = admin_client.get(changelist).content.decode()
    assert "HTTP 500 Internal Server Error" in page
    delivery = WebhookDelivery.objects.first()
    response = admin_client.get(url("fulfillment_webhookdelivery_change", delivery.pk))
    assert response.status_code == 200


# ---- changes before it ships (orders.services.order_update via the admin)


def order_form(page) -> dict:
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update(
            {f"{management.prefix}-{k}": v for k, v in management.initial.items()}
        )
        for index, inline in enumerate(formset.formset.forms):
            data[f"{formset.formset.prefix}-{index}-id"] = inline.instance.pk
    return data


def test_shipping_method_and_delivery_date_change_before_packing(
    admin_client, product, stock, place_order
):
    stock(product, 2)
    order = place_order([(product, 1)])
    change = url("orders_order_change", order.pk)
    data = order_form(admin_client.get(change)) | {
        "shipping_method": "Express",
        "requested_delivery_date": "2026-04-01",
    }
    assert admin_client.post(change, data).status_code == 302

    order.refresh_from_db()
    assert (order.shipping_method, order.requested_delivery_date) == (
        "Express",
        date(2026, 4, 1),
    )
    event = OrderEvent.objects.get(order=order, kind="updated")
    assert "shipping method: — → Express" in event.message
    assert "requested delivery date: — → 2026-04-01" in event.message


def test_packed_order_can_no_longer_be_changed(
    admin_client, product, stock, place_order, user
):
    from orders.exceptions import OrderStateError
    from orders.services.order_edits import order_update

    stock(product, 2)
    order = place_order([(product, 1)])
    pick_lists_create(order_ids=[order.pk], actor=user)
    order_pack_shipments(order=order, actor=user)
    page = admin_client.get(url("orders_order_change", order.pk))
    assert "ship_city" not in page.context["adminform"].form.fields
    with pytest.raises(OrderStateError, match="can no longer be changed"):
        order_update(order=order, actor=user, changes={"ship_city": "Dallas"})
    assert Order.objects.get(pk=order.pk).ship_city == "Austin"
