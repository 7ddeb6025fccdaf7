"""Fixtures of the customer's order page tests: a customer actor, an allocated
and a delivered order."""

import pytest

from fulfillment.services.tracking import order_deliver_shipments
from orders.customer_access import CustomerActor


@pytest.fixture
def actor():
    return CustomerActor(client_address="203.0.113.9")


@pytest.fixture
def allocated(place_order, stock, product):
    stock(product, 10)
    return place_order([(product, 2)])


@pytest.fixture
def delivered(shipped, product, user):
    order = shipped([(product, 3)])
    return order_deliver_shipments(order=order, actor=user)
