"""The role matrix: every role × every protected action, checked on the
server (a request, not a hidden button)."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from fulfillment.models import Shipment
from inventory.models import StockLevel
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE, roles_setup
from orders.models import Order
from returns.models import ReturnRequest
from returns.services.refunds import refund_create
from returns.services.returns import ReturnLineInput, return_open
from tests.factories import UserFactory

ROLES = [WAREHOUSE, CUSTOMER_SERVICE, MANAGER, None]  # None: staff without a role
W, C, M = WAREHOUSE, CUSTOMER_SERVICE, MANAGER

# action -> roles allowed (the README's role table)
MATRIX = {
    "order: allocate": {C, M},
    "order: hold": {C, M},
    "order: release": {C, M},
    "order: cancel": {C, M},
    "order: deliver": {W, M},
    "order: edit address": {C, M},
    "order: add": {C, M},
    "orders: import CSV": {M},
    "orders: export": {M},
    "orders: create pick lists": {W, M},
    "orders: print packing slips": {W, M},
    "shipments: mark packed": {W, M},
    "shipments: ship": {W, M},
    "shipments: print labels": {W, M},
    "stock: receive": {W, M},
    "stock: adjust": {W, M},
    "stock: count": {W, M},
    "stock: transfer": {W, M},
    "products: add": {M},
    "return: open": {C, M},
    "return: approve": {C, M},
    "return: reject": {C, M},
    "return: receive": {W, M},
    "return: inspect": {W, M},
    "refund: approve": {M},
    "returns: report": {M},
}


@pytest.fixture
def world(shipped, product, user, place_order, stock):
    order = shipped([(product, 3)])
    rma = return_open(
        order=order,
        lines=[
            ReturnLineInput(
                order_line=order.lines.get(), quantity=1, reason="defective"
            )
        ],
        actor=user,
    )
    refund = refund_create(order=order, actor=user, amount="1.00")
    return {
        "order": place_order([(product, 1)]),
        "rma": rma,
        "refund": refund,
        "level": StockLevel.objects.first(),
    }


def allowed_status(client, method: str, url: str, data=None) -> bool:
    response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302, 403), (url, response.status_code)
    return response.status_code != 403


def has_action(user, model, action: str) -> bool:
    request = RequestFactory().get("/")
    request.user = user
    return action in admin.site._registry[model].get_actions(request)


def perform(action: str, client, user, world) -> bool:
    order, rma, level = world["order"], world["rma"], world["level"]
    step = lambda name: reverse("admin:orders_order_step", args=[order.pk, name])  # noqa: E731
    stock = lambda op: reverse(  # noqa: E731
        "admin:inventory_stocklevel_operation", args=[level.pk, op]
    )
    rma_step = lambda name: reverse(  # noqa: E731
        "admin:returns_returnrequest_step", args=[rma.pk, name]
    )
    kind, _, what = action.partition(": ")
    if kind == "order" and what == "edit address":
        return (
            user.has_perm("orders.change_order")
            and allowed_status(
                client, "get", reverse("admin:orders_order_change", args=[order.pk])
            )
            and b'name="ship_city"'
            in client.get(reverse("admin:orders_order_change", args=[order.pk])).content
        )
    if kind == "order" and what == "add":
        return allowed_status(client, "get", reverse("admin:orders_order_add"))
    if kind == "order":
        return allowed_status(
            client, "get", step({"allocate": "allocate"}.get(what, what))
        )
    if action == "orders: import CSV":
        return allowed_status(client, "get", reverse("admin:orders_order_import"))
    if action == "orders: export":
        return allowed_status(client, "get", reverse("admin:orders_order_export"))
    if action == "orders: create pick lists":
        return has_action(user, Order, "create_pick_lists")
    if action == "orders: print packing slips":
        return has_action(user, Order, "print_packing_slips")
    if kind == "shipments":
        name = {
            "mark packed": "mark_packed",
            "ship": "ship",
            "print labels": "print_shipping_labels",
        }
        return has_action(user, Shipment, name[what])
    if kind == "stock":
        return allowed_status(client, "get", stock(what))
    if action == "products: add":
        return allowed_status(client, "get", reverse("admin:inventory_product_add"))
    if action == "return: open":
        return allowed_status(
            client, "get", reverse("admin:returns_returnrequest_open")
        )
    if kind == "return":
        return allowed_status(client, "get", rma_step(what))
    if action == "refund: approve":
        return allowed_status(
            client,
            "get",
            reverse(
                "admin:returns_refund_decide", args=[world["refund"].pk, "approve"]
            ),
        )
    if action == "returns: report":
        return allowed_status(
            client, "get", reverse("admin:returns_returnrequest_report")
        )
    raise AssertionError(f"no check for {action}")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
def test_role_matrix(client, world, role):
    groups = roles_setup()
    person = UserFactory(
        username=f"matrix-{(role or 'none').lower().replace(' ', '-')}"
    )
    if role:
        person.groups.add(groups[role])
    client.force_login(person)

    outcome = {action: perform(action, client, person, world) for action in MATRIX}

    expected = {action: role in roles for action, roles in MATRIX.items()}
    wrong = {a: outcome[a] for a in MATRIX if outcome[a] != expected[a]}
    assert wrong == {}, f"{role}: allowed≠expected for {wrong}"
    # Nothing changed just by looking.
    assert ReturnRequest.objects.get(pk=world["rma"].pk).status == "requested"
