"""Every admin page answers, and its query count does not grow with rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import OutboundMessage, OutboxDestination
from inventory.models import Allocation, Location, Product, StockLevel, StockMovement
from inventory.services import stock_receive
from orders.models import (
    Channel,
    Customer,
    ImportJob,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.services.lifecycle import order_hold, order_release
from tests.factories import (
    ChannelFactory,
    CustomerFactory,
    LocationFactory,
    ProductFactory,
)
from tests.support.admin_forms import order_add_form

ADMIN_MODELS = [
    Product,
    Location,
    StockLevel,
    StockMovement,
    Allocation,
    Channel,
    Customer,
    Order,
    OrderLine,
    OrderEvent,
    OutboundMessage,
]


@pytest.fixture
def grow(place_order, user):
    """Add `n` products with stock at two locations and an order for each."""
    locations = [LocationFactory(code="EAST", priority=1), LocationFactory(code="WEST")]

    def add(n):
        for _ in range(n):
            LocationFactory(active=False)
            ChannelFactory(code=f"channel-{Channel.objects.count()}")
            CustomerFactory()
            product = ProductFactory()
            for location in locations:
                stock_receive(
                    product=product, location=location, quantity=3, actor=user
                )
            order = place_order([(product, 4)])
            order_hold(order=order, actor=user, reason="payment")

    return add


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def admin_url(model, view, *args):
    return reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args
    )


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_changelist_query_count_does_not_grow_with_rows(model, admin_client, grow):
    grow(2)
    few = queries_for(admin_client, admin_url(model, "changelist"))
    grow(10)
    many = queries_for(admin_client, admin_url(model, "changelist"))

    assert model.objects.count() > 2
    assert many == few
    assert many <= 15


@pytest.mark.django_db
def test_paused_destinations_list_in_queries_that_do_not_grow(admin_client):
    def pause(n):
        for number in range(OutboxDestination.objects.count(), n):
            OutboxDestination.objects.create(
                key=f"channel:{number}", failures=1, last_error="refused"
            )

    pause(2)
    few = queries_for(admin_client, admin_url(OutboxDestination, "changelist"))
    pause(10)
    many = queries_for(admin_client, admin_url(OutboxDestination, "changelist"))
    assert many == few <= 15


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_change_page_answers_with_bounded_queries(model, admin_client, grow):
    grow(3)
    obj = model.objects.order_by("pk").first()
    assert queries_for(admin_client, admin_url(model, "change", obj.pk)) <= 30


@pytest.mark.django_db
def test_order_page_query_count_does_not_grow_with_lines_and_events(
    admin_client, place_order, user
):
    products = [ProductFactory() for _ in range(12)]
    small = place_order([(p, 1) for p in products[:2]])
    large = place_order([(p, 1) for p in products])
    for _ in range(10):
        order_hold(order=large, actor=user, reason="payment")
        order_release(order=large, actor=user)

    # The first page of a process fills Django's content type cache.
    admin_client.get(admin_url(Order, "change", small.pk))
    assert queries_for(
        admin_client, admin_url(Order, "change", small.pk)
    ) == queries_for(admin_client, admin_url(Order, "change", large.pk))


@pytest.mark.django_db
def test_product_page_shows_stock_per_location_and_history(admin_client, grow):
    grow(1)
    product = Product.objects.get()
    response = admin_client.get(admin_url(Product, "change", product.pk))
    content = response.content.decode()
    assert "Stock per location" in content
    assert "EAST" in content and "WEST" in content
    assert "Receipt" in content
    assert "<td>clerk</td>" in content


@pytest.mark.django_db
def test_add_page_answers(admin_client):
    for model in ADMIN_MODELS:
        response = admin_client.get(admin_url(model, "add"))
        assert response.status_code in (200, 403), model


@pytest.mark.django_db
def test_order_added_in_admin_gets_a_number_and_is_allocated(
    admin_client, channel, customer, product, stock
):
    stock(product, 5)
    response = admin_client.post(
        admin_url(Order, "add"),
        order_add_form(
            channel=channel,
            customer=customer,
            product=product,
            shipping_method="",
            shipping_amount="4.95",
            tax_amount="0",
            **{"lines-0-quantity": "2", "lines-0-unit_price": "12.50"},
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(external_id="PHONE-1")
    assert order.number.startswith("SO-")
    assert order.status == OrderStatus.ALLOCATED
    assert str(order.total) == "29.95"
    assert order.events.filter(kind="placed", user__username="boss").exists()


@pytest.mark.django_db
def test_order_walks_its_whole_life_by_buttons(
    admin_client, product, stock, place_order
):
    stock(product, 5)
    order = place_order([(product, 1)], allocate=False)
    for step, status in [
        ("allocate", "allocated"),
        ("start_picking", "picking"),
        ("pack", "packed"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
    ]:
        page = admin_client.get(admin_url(Order, "change", order.pk)).content.decode()
        assert f'data-step="{step}"' in page
        response = admin_client.post(
            reverse("admin:orders_order_step", args=[order.pk, step])
        )
        assert response.status_code == 302
        assert Order.objects.get(pk=order.pk).status == status

    users = set(
        order.events.exclude(kind="placed").values_list("user__username", flat=True)
    )
    assert users == {"boss"}


@pytest.mark.django_db
def test_hold_button_asks_for_a_reason_then_holds(
    admin_client, product, stock, place_order
):
    stock(product, 5)
    order = place_order([(product, 1)])
    url = reverse("admin:orders_order_step", args=[order.pk, "hold"])
    assert "Put on hold" in admin_client.get(url).content.decode()

    admin_client.post(url, {"reason": "fraud_review", "note": "odd address"})

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "fraud_review")


@pytest.mark.django_db
def test_illegal_button_reports_the_domain_error(
    admin_client, product, stock, place_order
):
    stock(product, 5)
    order = place_order([(product, 1)])
    response = admin_client.post(
        reverse("admin:orders_order_step", args=[order.pk, "deliver"]), follow=True
    )
    assert f"Order {order.number} is Allocated and cannot be marked delivered." in (
        response.content.decode()
    )
    assert Order.objects.get(pk=order.pk).status == "allocated"


@pytest.mark.django_db
def test_step_without_permission_is_forbidden(client, product, stock, place_order):
    from tests.factories import UserFactory

    stock(product, 5)
    order = place_order([(product, 1)])
    viewer = UserFactory(username="viewer")
    client.force_login(viewer)
    response = client.post(
        reverse("admin:orders_order_step", args=[order.pk, "cancel"])
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == "allocated"


@pytest.mark.django_db
def test_address_edit_in_admin_goes_through_the_service(
    admin_client, product, stock, place_order
):
    stock(product, 5)
    order = place_order([(product, 1)])
    page = admin_client.get(admin_url(Order, "change", order.pk))
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    data.update(
        {
            "ship_city": "Dallas",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": order.lines.get().pk,
            "lines-0-order": order.pk,
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    response = admin_client.post(admin_url(Order, "change", order.pk), data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.ship_city == "Dallas"
    assert order.events.filter(kind="updated", user__username="boss").exists()


@pytest.mark.django_db
def test_index_counts_stock_below_reorder_point(admin_client, product, stock):
    level = stock(product, 3)
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=5)
    response = admin_client.get(reverse("admin:index"))
    alert = (
        response.content.decode().split('id="oms-stock-alerts"')[1].split("</tr>")[0]
    )
    assert "at or below reorder point" in alert and "<strong>1</strong>" in alert

    listing = admin_client.get(admin_url(StockLevel, "changelist") + "?reorder=below")
    assert list(listing.context["cl"].result_list) == [level]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "data", "on_hand", "reason"),
    [
        ("receive", {"quantity": 5, "reference": "PO-9", "note": ""}, 15, "receipt"),
        ("adjust", {"delta": -2, "reason": "damaged", "note": "dropped"}, 8, "damaged"),
        ("count", {"counted": 7, "note": ""}, 7, "cycle_count"),
    ],
)
def test_stock_operations_in_the_admin_write_the_ledger(
    admin_client, product, stock, operation, data, on_hand, reason
):
    level = stock(product, 10)
    url = reverse("admin:inventory_stocklevel_operation", args=[level.pk, operation])
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(url, data)

    assert response.status_code == 302
    level.refresh_from_db()
    assert level.on_hand == on_hand
    assert StockMovement.objects.filter(reason=reason, user__username="boss").exists()


@pytest.mark.django_db
def test_stock_transfer_in_the_admin(admin_client, product, stock):
    level = stock(product, 10)
    other = LocationFactory(code="BKN")
    url = reverse("admin:inventory_stocklevel_operation", args=[level.pk, "transfer"])
    admin_client.post(url, {"to_location": other.pk, "quantity": 4, "note": ""})
    assert StockLevel.objects.get(location=other).on_hand == 4


@pytest.mark.django_db
def test_refused_stock_operation_shows_why_and_changes_nothing(
    admin_client, product, stock, place_order
):
    level = stock(product, 3)
    place_order([(product, 3)])
    url = reverse("admin:inventory_stocklevel_operation", args=[level.pk, "adjust"])
    response = admin_client.post(url, {"delta": -1, "reason": "lost", "note": ""})
    assert response.status_code == 200
    assert "only 0 are free" in response.content.decode()
    level.refresh_from_db()
    assert level.on_hand == 3


@pytest.mark.django_db
def test_stock_operation_needs_change_permission(client, product, stock):
    from tests.factories import UserFactory

    level = stock(product, 3)
    client.force_login(UserFactory(username="viewer"))
    url = reverse("admin:inventory_stocklevel_operation", args=[level.pk, "receive"])
    assert client.post(url, {"quantity": 5}).status_code == 403


@pytest.mark.django_db
def test_import_job_list_query_count_does_not_grow(admin_client, channel, superuser):
    def add(n):
        for index in range(n):
            ImportJob.objects.create(
                filename=f"f{index}.csv",
                source=None,
                channel=channel,
                created_by=superuser,
            )

    add(2)
    few = queries_for(admin_client, admin_url(ImportJob, "changelist"))
    add(10)
    assert queries_for(admin_client, admin_url(ImportJob, "changelist")) == few
