"""The order page shows its lines and timeline as read-only tables (no
formsets: an order with 50 lines and 100 events renders fast), with every
piece of information the inlines showed."""

import pytest
from django.urls import reverse

from connections.models import InboundMessage
from orders.models import OrderEvent
from tests.factories import OrderFactory, ProductFactory


def order_page(client, order):
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response


@pytest.fixture
def order_with_timeline(admin_user):
    order = OrderFactory()
    product = ProductFactory()
    order.lines.create(
        product=product,
        sku=product.sku,
        name=product.name,
        quantity=3,
        unit_price=7,
        total=21,
    )
    message = InboundMessage.objects.create(
        channel=order.channel,
        source=InboundMessage.Source.values[0],
        topic="orders/create",
        order=order,
    )
    OrderEvent.objects.create(
        order=order,
        kind="status",
        message="Came in",
        data={"inbound_message": message.pk},
    )
    OrderEvent.objects.create(
        order=order,
        kind="status",
        message="Stock allocated <b>",
        user=admin_user,
        data={"routing": {"units": 3, "options": [["FAR", 5, 20]], "from": ["FAR"]}},
    )
    return order, product, message


@pytest.mark.django_db
def test_lines_and_timeline_are_read_only_tables(
    admin_client, admin_user, order_with_timeline
):
    order, product, message = order_with_timeline
    response = order_page(admin_client, order)
    html = response.content.decode()
    # No formset for lines or events: nothing of them is posted back.
    prefixes = [f.formset.prefix for f in response.context["inline_admin_formsets"]]
    assert "lines" not in prefixes and "events" not in prefixes
    assert 'name="lines-TOTAL_FORMS"' not in html
    assert 'name="events-TOTAL_FORMS"' not in html

    # The line: a link to its product, quantity, price, SKU, name, allocated.
    product_url = reverse("admin:inventory_product_change", args=[product.pk])
    assert f'<a href="{product_url}">{product}</a>' in html
    assert '<td class="field-quantity"><p>3</p></td>' in html
    assert '<td class="field-unit_price"><p>7.00</p></td>' in html
    assert f'<td class="field-sku"><p>{product.sku}</p></td>' in html
    assert '<td class="field-reserved"><p>0</p></td>' in html

    # The timeline, newest first: routing reasons under the allocation, the
    # inbound message linked, the user; messages escaped.
    message_url = reverse("admin:connections_inboundmessage_change", args=[message.pk])
    assert f'Came in <a href="{message_url}">(message #{message.pk})</a>' in html
    assert 'Stock allocated &lt;b&gt;<div class="oms-routing">' in html
    assert "Routing:" in html
    assert html.index("Stock allocated") < html.index("Came in")
    assert f'<td class="field-user"><p>{admin_user.username}</p></td>' in html
    assert "Timeline (newest first)" in html and "Order lines" in html


@pytest.mark.django_db
def test_tables_follow_view_permissions(client, django_user_model, order_with_timeline):
    from django.contrib.auth.models import Permission

    order, product, _ = order_with_timeline
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)
    html = order_page(client, order).content.decode()
    # The timeline needs the order view permission; the lines their own.
    assert "Timeline (newest first)" in html
    assert 'id="lines-group"' not in html
    clerk.user_permissions.add(Permission.objects.get(codename="view_orderline"))
    clerk = django_user_model.objects.get(pk=clerk.pk)
    client.force_login(clerk)
    assert 'id="lines-group"' in order_page(client, order).content.decode()


@pytest.mark.django_db
def test_add_page_keeps_the_lines_formset(admin_client):
    response = admin_client.get(reverse("admin:orders_order_add"))
    assert response.status_code == 200
    prefixes = [f.formset.prefix for f in response.context["inline_admin_formsets"]]
    assert prefixes == ["lines"]
