"""Field history (core.history, django-pghistory): who changed what and why,
bulk writes (COPY, F() updates, set-based status moves) included."""

import pytest
from django.db.models import F
from django.urls import reverse

from core.history import history_context
from inventory.models import StockLevel
from orders.importing.services import orders_import
from orders.models import Order, OrderStatus
from orders.services.allocation import orders_allocate
from orders.services.order_edits import order_update
from tests.orders.test_import import SAMPLE, catalogue  # noqa: F401


def _events(obj) -> list[tuple]:
    """(label, reason, user id) of each history event of `obj`, oldest first."""
    return [
        (event.pgh_label, (event.pgh_context or {}).get("reason"), _user(event))
        for event in obj.history.order_by("pgh_id")
    ]


def _user(event):
    return (event.pgh_context or {}).get("user")


@pytest.mark.django_db
def test_a_bulk_import_records_every_new_order_and_line_with_user_and_reason(
    catalogue,  # noqa: F811
    user,
):
    result = orders_import(data=SAMPLE.read_bytes(), actor=user, filename="june.csv")

    orders = Order.objects.filter(pk__in=result.order_ids).prefetch_related("lines")
    assert orders
    for order in orders:
        assert _events(order) == [("insert", "imported from june.csv", user.pk)]
        for line in order.lines.all():
            assert _events(line) == [("insert", "imported from june.csv", user.pk)]


@pytest.mark.django_db
def test_allocation_moves_statuses_in_bulk_and_records_the_move(
    catalogue,  # noqa: F811
    user,
):
    result = orders_import(data=SAMPLE.read_bytes(), actor=user)
    pending = Order.objects.filter(
        pk__in=result.order_ids, status=OrderStatus.PENDING
    ).first()
    assert pending is not None

    orders_allocate(order_ids=result.order_ids, actor=user)

    newest = pending.history.first()
    assert newest.pgh_label == "update"
    assert newest.pgh_context == {"reason": "allocation", "user": user.pk}
    pending.refresh_from_db()
    assert newest.status == pending.status != OrderStatus.PENDING


@pytest.mark.django_db
def test_stock_f_updates_record_each_state_with_user_and_reason(
    product, stock, place_order, user
):
    level = stock(product, 5)
    place_order([(product, 2)])

    states = [
        (event.on_hand, event.allocated, event.pgh_context.get("reason"), _user(event))
        for event in level.history.order_by("pgh_id")
        if event.pgh_label == "update"
    ]
    assert (5, 0, "receipt", user.pk) in states
    assert (5, 2, "reserved for orders", None) in states


@pytest.mark.django_db
def test_a_bulk_update_records_only_the_rows_it_really_changed(
    product, stock, place_order
):
    first = place_order([(product, 1)], allocate=False)
    second = place_order([(product, 1)], allocate=False)
    before = {order.pk: order.history.count() for order in (first, second)}

    with history_context(reason="priority sweep"):
        Order.objects.filter(pk__in=[first.pk, second.pk]).update(
            priority=Order.Priority.HIGH, version=F("version") + 1
        )
        # Bookkeeping only (version, updated_at): not a change worth a row.
        Order.objects.filter(pk=first.pk).update(version=F("version") + 1)

    for order in (first, second):
        assert order.history.count() == before[order.pk] + 1
        newest = order.history.first()
        assert newest.priority == Order.Priority.HIGH
        assert newest.pgh_context["reason"] == "priority sweep"


@pytest.mark.django_db
def test_nested_contexts_give_the_outer_reason_back(product, stock, user):
    level = stock(product, 5)

    with history_context(actor=user, reason="outer"):
        with history_context(reason="inner"):
            StockLevel.objects.filter(pk=level.pk).update(bin="A-1")
        StockLevel.objects.filter(pk=level.pk).update(bin="A-2")

    assert _events(level)[-2:] == [
        ("update", "inner", user.pk),
        ("update", "outer", user.pk),
    ]


@pytest.mark.django_db
def test_the_history_page_lists_changes_old_to_new_with_who_and_why(
    admin_client,
    product,
    stock,
    place_order,
    user,
    django_assert_max_num_queries,
):
    stock(product, 5)
    order = place_order([(product, 1)])
    with history_context(actor=user, reason="customer called"):
        order_update(order=order, actor=user, changes={"ship_city": "Dallas"})

    url = reverse("admin:orders_order_history", args=[order.pk])
    with django_assert_max_num_queries(8):
        page = admin_client.get(url)

    assert page.status_code == 200
    text = page.content.decode()
    assert "Austin → Dallas" in text
    assert "customer called" in text
    assert user.get_username() in text
    # Read-only: no revert link or form.
    assert "revert" not in text.lower()
    assert "<form" not in text.split('id="change-history"')[1]


@pytest.mark.django_db
def test_the_history_pages_of_every_tracked_model_render(
    admin_client, product, stock, place_order, customer
):
    level = stock(product, 5)
    order = place_order([(product, 1)])
    for name, obj in (
        ("orders_order", order),
        ("orders_orderline", order.lines.first()),
        ("orders_customer", customer),
        ("inventory_product", product),
        ("inventory_location", level.location),
        ("inventory_stocklevel", level),
    ):
        page = admin_client.get(reverse(f"admin:{name}_history", args=[obj.pk]))
        assert page.status_code == 200, name
        assert "created" in page.content.decode(), name


@pytest.mark.django_db
def test_an_admin_edit_records_the_signed_in_user(admin_client, superuser, customer):
    url = reverse("admin:orders_customer_change", args=[customer.pk])
    page = admin_client.post(
        url,
        {"email": customer.email, "name": "Grace Hopper", "phone": customer.phone},
    )

    assert page.status_code == 302, page.content.decode()[:2000]
    newest = customer.history.first()
    assert newest.name == "Grace Hopper"
    assert newest.pgh_context["user"] == superuser.pk
