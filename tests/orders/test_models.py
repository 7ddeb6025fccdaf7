import pytest
from django.db import IntegrityError, transaction

from orders.models import Customer, Order
from tests.factories import ChannelFactory, CustomerFactory, OrderFactory


@pytest.mark.django_db
def test_external_id_is_unique_per_channel():
    order = OrderFactory(external_id="1001")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(external_id="1001", channel=order.channel)
    other = ChannelFactory(code="marketplace", name="Marketplace")
    assert OrderFactory(external_id="1001", channel=other).pk


@pytest.mark.django_db
def test_customer_email_is_unique_ignoring_case():
    CustomerFactory(email="ada@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(email="ADA@Example.com")
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_status_field_is_protected_from_direct_assignment():
    order = OrderFactory()
    with pytest.raises(AttributeError):
        order.status = "shipped"
    assert Order.objects.get(pk=order.pk).status == "pending"
