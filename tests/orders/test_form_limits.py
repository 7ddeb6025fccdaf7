"""Admin and step forms refuse what the database would."""

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from orders.forms import CancelForm, HoldForm
from orders.models import Customer, Order


def admin_form(model, superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    return admin.site._registry[model].get_form(request)


def line_form(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    model_admin = admin.site._registry[Order]
    inline = next(
        i
        for i in model_admin.get_inline_instances(request)
        if i.model.__name__ == "OrderLine"
    )
    return inline.get_formset(request).form


@pytest.mark.django_db
def test_order_line_quantity_above_the_integer_range_is_refused(superuser):
    quantity = line_form(superuser).base_fields["quantity"]

    assert quantity.clean("2147483647") == 2147483647
    with pytest.raises(ValidationError):
        quantity.clean("2147483648")


@pytest.mark.django_db
def test_order_line_price_of_ten_billion_is_refused(superuser):
    price = line_form(superuser).base_fields["unit_price"]

    with pytest.raises(ValidationError):
        price.clean("10000000000")


@pytest.mark.django_db
def test_line_break_in_a_one_line_address_field_is_refused(superuser):
    ship_city = admin_form(Order, superuser).base_fields["ship_city"]

    with pytest.raises(ValidationError) as refused:
        ship_city.clean("Austin\nTexas")
    assert "contains a line break (U+000A)" in refused.value.messages[0]


@pytest.mark.django_db
def test_control_character_in_a_customer_name_is_refused(superuser):
    name = admin_form(Customer, superuser).base_fields["name"]

    with pytest.raises(ValidationError):
        name.clean("Ada\x1bLovelace")


def test_hold_and_cancel_notes_refuse_control_characters():
    assert not HoldForm({"reason": "other", "note": "call\x00back"}).is_valid()
    assert not CancelForm({"reason": "asked\x07"}).is_valid()
    assert CancelForm({"reason": "customer request"}).is_valid()
