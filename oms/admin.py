"""The one order admin, composed from what each app adds to the order page.

`orders` gives the base (list, search, lines, timeline, edits before
packing, hold/cancel steps), `fulfillment` the delivery panel and the
warehouse steps, `returns` the returns panel and the refund step. It is
registered here, once, so no app's admin depends on another's load order.
"""

from django.contrib import admin

from fulfillment.admin.order_panel import FulfillmentOrderAdminMixin
from orders.admin.orders import OrderAdminBase
from orders.models import Order
from returns.admin.order_panel import ReturnsOrderAdminMixin


@admin.register(Order)
class OrderAdmin(ReturnsOrderAdminMixin, FulfillmentOrderAdminMixin, OrderAdminBase):
    """Orders: everything a person does with one, on one page."""
