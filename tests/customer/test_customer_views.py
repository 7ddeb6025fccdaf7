"""The customer's order page and its forms (oms/customer/views.py)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Shipment, TrackingEvent
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.tracking import tracking_event_record
from orders.customer_access import (
    CustomerActor,
    customer_page_path,
)
from orders.models import CustomerRequest, Order, OrderEvent
from orders.services.customer import (
    customer_request_create,
)
from returns.models import ReturnRequest
from returns.services.customer import return_open_by_customer
from returns.services.returns import ReturnLineInput, return_approve
from tests import factories
from tests.support.emails import customer_emails
from tests.support.files import store


def _page(client, order, suffix=""):
    return client.get(customer_page_path(order=order) + suffix)


# ---- the page


def test_page_shows_status_items_and_masked_address(client, allocated):
    response = _page(client, allocated)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your items are set aside for you" in html
    assert "T-shirt black M" in html
    # The name is shown short, and whole only as the address form's
    # starting value; the street and postcode never whole.
    assert "Ada L." in html
    assert html.count("Lovelace") == 1 and 'value="Ada Lovelace"' in html
    assert "1 Main St" not in html and "Austin" in html
    assert "1 Ma… S…" in html  # the street's words, first characters
    assert response["X-Robots-Tag"].startswith("noindex")
    assert '<meta name="robots" content="noindex' in html
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert allocated.customer.email not in html


def test_page_is_in_the_channels_branding(client, allocated):
    channel = allocated.channel
    channel.display_name = "Acme Outdoor"
    channel.logo_url = "https://cdn.acme.example/logo.png"
    channel.accent_colour = "#aa3300"
    channel.support_email = "help@acme.example"
    channel.save()
    html = _page(client, allocated).content.decode()
    assert "Acme Outdoor" in html
    assert 'src="https://cdn.acme.example/logo.png"' in html
    assert "--accent: #aa3300" in html
    assert "mailto:help@acme.example" in html


def test_bad_accent_colour_never_reaches_the_style_sheet(client, allocated):
    # Only a raw write gets past the field's validator.
    type(allocated.channel).objects.filter(pk=allocated.channel_id).update(
        accent_colour="red;}"
    )
    html = _page(client, allocated).content.decode()
    assert "red;}" not in html and "--accent: #1f6feb" in html


def _tracked(order, user):
    shipment = Shipment.objects.get(order=order)
    now = timezone.now()
    tracking_event_record(
        shipment=shipment,
        status=TrackingEvent.Status.IN_TRANSIT,
        occurred_at=now - timedelta(hours=5),
        place="Memphis, TN",
        actor=user,
        estimated_delivery=timezone.localdate() + timedelta(days=2),
    )
    tracking_event_record(
        shipment=shipment,
        status=TrackingEvent.Status.EXCEPTION,
        occurred_at=now - timedelta(hours=1),
        place="Dallas, TX",
        description="Recipient not at address",
        exception_reason="address",
        estimated_delivery=timezone.localdate() + timedelta(days=4),
        actor=user,
    )
    return shipment


def test_page_explains_an_exception_and_shows_the_new_eta(
    client, shipped, product, user
):
    order = shipped([(product, 1)])
    shipment = _tracked(order, user)
    html = _page(client, order).content.decode()
    assert "The carrier could not deliver to the address." in html
    assert "What happens next: The carrier tries again" in html
    assert "Recipient not at address" in html
    eta = timezone.localdate() + timedelta(days=4)
    assert eta.strftime("%B") in html and f"{eta.day} " in html
    assert "Memphis, TN" in html and "Dallas, TX" in html
    assert f'href="{shipment.tracking_url}"' in html


def test_page_says_how_late_a_parcel_is(client, shipped, product):
    order = shipped([(product, 1)])
    Shipment.objects.filter(order=order).update(
        status="in_transit", estimated_delivery=timezone.localdate() - timedelta(days=2)
    )
    html = _page(client, order).content.decode()
    assert "2 days late</span>: it was expected" in html
    assert "What happens next: Parcels often arrive a day or two after" in html


def test_a_parcel_held_up_for_two_weeks_says_how_late(client, shipped, product):
    order = shipped([(product, 1)])
    Shipment.objects.filter(order=order).update(
        status="exception",
        exception_reason="delayed",
        estimated_delivery=timezone.localdate() - timedelta(days=14),
    )
    html = _page(client, order).content.decode()
    assert "14 days late</span>: it was expected" in html
    assert "Expected " not in html
    assert "What happens next:" in html  # the problem's own next step


def test_the_address_form_starts_with_the_name_and_country(client, allocated):
    html = _page(client, allocated).content.decode()
    form = html[html.index('id="delivery-form"') :]
    form = form[: form.index("</form>")]
    assert 'value="Ada Lovelace"' in form
    assert re.search(r'<option value="US" selected>', form)
    # The street is typed by the customer: never filled in.
    assert 'name="ship_address1"' in form and "Main St" not in form


def test_page_query_count_is_fixed(
    client, delivered, user, actor, django_assert_max_num_queries
):
    # The order, shipments, scans, returns, their lines, order lines, requests
    # (+ the rate limit's count in the shared cache: one upsert).
    line = delivered.lines.get()
    rma = return_open_by_customer(
        order=delivered,
        actor=actor,
        lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
    )
    return_approve(return_request=rma, actor=user)
    with django_assert_max_num_queries(8):
        assert _page(client, delivered).status_code == 200


@pytest.mark.parametrize(
    "token", ["nothing", "eyJvIjoxfQ:forged", "a" * 300, "%00", "o:1:2:3"]
)
def test_bad_tokens_are_the_same_404(client, allocated, token):
    response = client.get(f"/o/{token}/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    assert response["X-Robots-Tag"].startswith("noindex")


def test_token_of_a_deleted_order_is_the_same_404(client, allocated):
    path = customer_page_path(order=allocated)
    Order.objects.filter(pk=allocated.pk).update(number="SO-999999")
    response = client.get(path)
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_link_expires_days_after_delivery(client, delivered, settings):
    settings.OMS_CUSTOMER_LINK_DAYS = 10
    assert _page(client, delivered).status_code == 200
    Shipment.objects.filter(order=delivered).update(
        delivered_at=timezone.now() - timedelta(days=11)
    )
    response = _page(client, delivered)
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_open_return_keeps_the_link_alive(client, delivered, settings, actor):
    line = delivered.lines.get()
    return_open_by_customer(
        order=delivered,
        actor=actor,
        lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
    )
    settings.OMS_CUSTOMER_LINK_DAYS = 1
    Shipment.objects.filter(order=delivered).update(
        delivered_at=timezone.now() - timedelta(days=5)
    )
    assert _page(client, delivered).status_code == 200


def test_page_is_rate_limited_per_client_address(client, allocated, settings):
    settings.OMS_CUSTOMER_PAGE_RATE = "3/minute"
    for _ in range(3):
        assert _page(client, allocated).status_code == 200
    response = _page(client, allocated)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    other = client.get(customer_page_path(order=allocated), REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200


def test_forms_need_the_csrf_token(allocated):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        customer_page_path(order=allocated) + "cancel/", {"reason": ""}
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=allocated.pk).status == "allocated"


def test_every_form_on_the_page_carries_a_csrf_token(client, delivered, allocated):
    for order in (allocated, delivered):
        html = _page(client, order).content.decode()
        assert html.count("<form") == html.count('name="csrfmiddlewaretoken"')
        assert html.count("<form") >= 1


def test_change_address_through_the_page(client, allocated):
    path = customer_page_path(order=allocated)
    response = client.post(
        path + "delivery/",
        {
            "ship_name": "Ada Lovelace",
            "ship_address1": "2 Elm St",
            "ship_city": "Dallas",
            "ship_region": "TX",
            "ship_postcode": "75201",
            "ship_country": "US",
        },
        REMOTE_ADDR="203.0.113.50",
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?done=delivery")
    order = Order.objects.get(pk=allocated.pk)
    assert order.ship_city == "Dallas"
    event = order.events.filter(kind=OrderEvent.Kind.UPDATED).first()
    assert event.data["client_address"] == "203.0.113.50"
    assert "changed" in client.get(response["Location"]).content.decode()


def test_bad_address_on_the_page_names_the_field(client, allocated):
    path = customer_page_path(order=allocated)
    response = client.post(
        path + "delivery/",
        {"ship_name": "Ada", "ship_address1": "2 Elm St", "ship_country": "US"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Required for a new address." in html
    assert Order.objects.get(pk=allocated.pk).ship_address1 == "1 Main St"


def test_cancel_through_the_page(client, allocated):
    path = customer_page_path(order=allocated) + "cancel/"
    # One tap never cancels: the box must be ticked.
    refused = client.post(path, {})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    assert Order.objects.get(pk=allocated.pk).status == "allocated"
    response = client.post(path, {"confirm": "on"})
    assert response.status_code == 302
    assert Order.objects.get(pk=allocated.pk).status == "cancelled"


def test_cancel_after_pick_list_becomes_a_request(client, allocated, user):
    pick_lists_create(order_ids=[allocated.pk], actor=user)
    path = customer_page_path(order=allocated)
    assert "Ask us to cancel" in client.get(path).content.decode()
    response = client.post(path + "cancel/", {"message": "Changed my mind"})
    assert response.status_code == 302
    assert Order.objects.get(pk=allocated.pk).status == "picking"
    request = CustomerRequest.objects.get(order=allocated)
    assert (request.kind, request.message) == ("cancel", "Changed my mind")


def test_return_through_the_page_then_label_after_approval(client, delivered, user):
    path = customer_page_path(order=delivered)
    line = delivered.lines.get()
    response = client.post(
        path + "return/",
        {f"quantity_{line.pk}": "1", f"reason_{line.pk}": "damaged", "note": "Torn"},
    )
    assert response.status_code == 302, response.content.decode()
    rma = ReturnRequest.objects.get(order=delivered)
    label = path + f"returns/{rma.number}/label/"
    assert client.get(label).status_code == 404  # not approved yet
    return_approve(return_request=rma, actor=user)
    assert "Download the return label" in client.get(path).content.decode()
    response = client.get(label)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    printed = delivered.events.filter(kind=OrderEvent.Kind.DOCUMENT).first()
    assert "by the customer" in printed.message


def test_return_form_needs_a_reason_per_line(client, delivered):
    line = delivered.lines.get()
    response = client.post(
        customer_page_path(order=delivered) + "return/",
        {f"quantity_{line.pk}": "1", f"reason_{line.pk}": ""},
    )
    assert response.status_code == 400
    assert "Choose why" in response.content.decode()
    assert not ReturnRequest.objects.filter(order=delivered).exists()


def test_label_of_another_orders_return_is_not_found(client, delivered, allocated):
    path = customer_page_path(order=allocated)
    assert client.get(path + "returns/RMA-000001/label/").status_code == 404


def test_customer_emails_link_to_the_page(
    place_order, stock, product, django_capture_on_commit_callbacks
):
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        allocated = place_order([(product, 1)])
    email = customer_emails("order_received", order=allocated).get()
    sent = [
        m
        for m in mail.outbox
        if m.extra_headers["X-OMS-Email"] == f"{email.kind}:{email.dedupe_key}"
    ]
    assert customer_page_path(order=allocated) in sent[0].body


def test_request_queue_admin_lists_open_requests(
    admin_client, shipped, product, actor, django_assert_max_num_queries
):
    for _ in range(3):
        order = shipped([(product, 1)])
        customer_request_create(
            order=order,
            actor=actor,
            kind=CustomerRequest.Kind.CHANGE_DELIVERY,
            message="Leave it with the neighbour",
        )
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:orders_customerrequest_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count("Leave it with the neighbour") == 3


def test_dashboard_counts_open_requests(admin_client, shipped, product, actor):
    from tests.test_dashboard import attention

    order = shipped([(product, 1)])
    customer_request_create(
        order=order,
        actor=actor,
        kind=CustomerRequest.Kind.CHANGE_DELIVERY,
        message="Leave it",
    )
    rows = attention(admin_client.get("/admin/").content.decode())
    count, link = rows["Customer requests to answer (from the order page)"]
    assert count == "1"
    assert link == reverse("admin:orders_customerrequest_changelist")


def test_prepaid_label_is_offered_once_bought(client, delivered, user, carrier):
    from fulfillment.models import ReturnLabel

    line = delivered.lines.get()
    rma = return_open_by_customer(
        order=delivered,
        actor=CustomerActor(client_address="203.0.113.9"),
        lines=[ReturnLineInput(order_line=line, quantity=1, reason="other")],
    )
    return_approve(return_request=rma, actor=user)
    prepaid = ReturnLabel.objects.create(
        order=delivered, return_number=rma.number, carrier=carrier
    )
    path = customer_page_path(order=delivered)
    label = path + f"returns/{rma.number}/label/"
    html = client.get(path).content.decode()
    assert "being prepared" in html and "Download the return label" not in html
    assert client.get(label).status_code == 404

    prepaid.status = ReturnLabel.Status.BOUGHT
    prepaid.label_file = store(
        ReturnLabel, "label_file", b"%PDF-1.4 prepaid by the carrier"
    )
    prepaid.save()
    assert "Download the return label" in client.get(path).content.decode()
    response = client.get(label)
    assert b"".join(response.streaming_content) == b"%PDF-1.4 prepaid by the carrier"


@pytest.mark.parametrize(
    ("role", "answers"),
    [("Customer service", True), ("Manager", True), ("Warehouse", False)],
)
def test_customer_service_and_managers_answer_requests(db, client, role, answers):
    from oms.roles import roles_setup

    person = factories.UserFactory(username=f"r-{role[:4].lower()}", is_staff=True)
    person.groups.add(roles_setup()[role])
    client.force_login(person)
    response = client.get(reverse("admin:orders_customerrequest_changelist"))
    assert (response.status_code == 200) is answers
    if answers:
        choices = response.context["action_form"].fields["action"].choices
        assert "mark_done" in {name for name, _ in choices}
