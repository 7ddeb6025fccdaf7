"""Two people edit the same order: the second save is refused, not lost."""

import pytest
from django.test import Client
from django.urls import reverse

from orders.exceptions import OrderConflictError
from orders.models import Order
from orders.services.order_edits import order_update
from tests.factories import UserFactory


def form_data(page) -> dict:
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


@pytest.mark.django_db
def test_second_editor_is_refused_and_first_change_kept(product, stock, place_order):
    stock(product, 5)
    order = place_order([(product, 1)])
    url = reverse("admin:orders_order_change", args=[order.pk])
    first, second = Client(), Client()
    first.force_login(UserFactory(username="ann", is_superuser=True))
    second.force_login(UserFactory(username="bob", is_superuser=True))
    ann_page, bob_page = first.get(url), second.get(url)

    ann = form_data(ann_page) | {"ship_city": "Dallas"}
    assert first.post(url, ann).status_code == 302
    bob = form_data(bob_page) | {"ship_city": "Houston"}
    refused = second.post(url, bob)

    assert refused.status_code == 200
    assert "was changed by someone else while you were editing it" in (
        refused.content.decode()
    )
    order.refresh_from_db()
    assert order.ship_city == "Dallas"
    assert order.events.filter(kind="updated", user__username="bob").count() == 0


@pytest.mark.django_db
def test_service_refuses_a_stale_version(product, stock, place_order, user):
    stock(product, 5)
    order = place_order([(product, 1)])
    seen = Order.objects.get(pk=order.pk).version
    order_update(order=order, actor=user, changes={"ship_city": "Dallas"})

    with pytest.raises(OrderConflictError, match="changed by someone else"):
        order_update(
            order=order,
            actor=user,
            changes={"ship_city": "Houston"},
            expected_version=seen,
        )
    order.refresh_from_db()
    assert order.ship_city == "Dallas"


@pytest.mark.django_db
def test_every_change_raises_the_version(product, stock, place_order, user):
    from orders.services.lifecycle import order_hold

    stock(product, 5)
    order = place_order([(product, 1)])
    before = Order.objects.get(pk=order.pk).version
    order_hold(order=order, actor=user, reason="payment")
    assert Order.objects.get(pk=order.pk).version == before + 1
