"""Factories for every model the tests build (factory-boy)."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.models import Location, Product, StockLevel
from orders.models import Channel, Customer, Order, OrderLine


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or "pass-1234")
        if create:
            user.save(update_fields=["password"])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    weight_g = 250


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    code = factory.Sequence(lambda n: f"L{n:02d}")
    name = factory.LazyAttribute(lambda loc: f"Location {loc.code}")
    country = "US"
    priority = 10


class StockLevelFactory(factory.django.DjangoModelFactory):
    """A stock level with no stock; tests receive stock through the services."""

    class Meta:
        model = StockLevel

    product = factory.SubFactory(ProductFactory)
    location = factory.SubFactory(LocationFactory)
    bin = factory.Sequence(lambda n: f"A-{n % 50:02d}-1")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ["code"]

    code = "web"
    name = "Web shop"
    kind = Channel.Kind.WEB


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class OrderFactory(factory.django.DjangoModelFactory):
    """A pending order without lines, written directly (no allocation)."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"SO-T{n:05d}")
    channel = factory.SubFactory(ChannelFactory)
    external_id = factory.Sequence(lambda n: f"EXT-{n}")
    customer = factory.SubFactory(CustomerFactory)
    ship_name = "Ada Lovelace"
    ship_address1 = "12 Analytical Row"
    ship_city = "Austin"
    ship_region = "TX"
    ship_postcode = "78701"
    ship_country = "US"
    placed_at = factory.LazyFunction(timezone.now)
    subtotal = Decimal("20.00")
    total = Decimal("20.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda line: line.product.sku)
    name = factory.LazyAttribute(lambda line: line.product.name)
    quantity = 1
    unit_price = Decimal("10.00")
    total = factory.LazyAttribute(
        lambda line: line.unit_price * line.quantity - line.discount_amount
    )
    discount_amount = Decimal("0")


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fulfillment.Carrier"
        django_get_or_create = ["code"]

    code = "pex"
    name = "Parcel Express"
    tracking_url_template = "https://track.example/{tracking}"
    services = "Ground, Express"
