"""core.admin_utils: the row checkbox written directly is Django's markup."""

import pytest
from django.contrib import admin
from django.contrib.admin.sites import site

from inventory.models import Product, StockLevel
from orders.models import Order


@pytest.mark.parametrize("model", [StockLevel, Product, Order])
def test_row_checkbox_is_djangos_markup(model, product, stock, place_order):
    # given a row of a list whose admin writes the checkbox itself
    model_admin = site._registry[model]
    stock(product, 5)
    place_order([(product, 1)])
    obj = model.objects.order_by("pk").first()

    # when the cell is drawn both ways
    ours = model_admin.action_checkbox(obj)
    djangos = admin.ModelAdmin.action_checkbox(model_admin, obj)

    # then the HTML is the same, attribute for attribute
    assert ours == djangos
    assert type(model_admin).action_checkbox is not admin.ModelAdmin.action_checkbox
