"""Orders in and out of the system's hands: customers, numbers, creating an
order with its lines, and the changes a person makes before it is packed.

Each service reads top to bottom: lock, check, act, record, notify after
commit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.sequences import format_number, sequence_reserve
from core.users import Actor
from inventory.models import Product
from inventory.services import stock_release
from orders import events
from orders.addresses import SHIP_TO_FIELDS, Address
from orders.emails import customer_email_queue
from orders.exceptions import OrderConflictError, OrderError, OrderStateError
from orders.locks import lock_order
from orders.models import (
    Channel,
    Customer,
    CustomerEmail,
    Order,
    OrderLine,
    OrderStatus,
)
from orders.services.allocation import orders_allocate_locked

S = OrderStatus
ORDER_NUMBER_PREFIX = "SO"

# Fields a person may change on an order until it is packed.
EDITABLE_FIELDS = (
    *SHIP_TO_FIELDS,
    "shipping_method",
    "requested_delivery_date",
    "priority",
)


@dataclass(frozen=True)
class LineInput:
    product: Product
    quantity: int
    unit_price: Decimal


def customer_get_or_create(*, email: str, name: str = "", phone: str = "") -> Customer:
    """Find a customer by e-mail (any letter case) or create one."""
    email = email.strip()
    customer = Customer.objects.filter(email__iexact=email).first()
    if customer:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email.lower(), name=name, phone=phone)
    except IntegrityError:
        # Someone created the same customer a moment ago.
        return Customer.objects.get(email__iexact=email)


def order_number_next() -> str:
    """Reserve the next human order number."""
    return format_number(ORDER_NUMBER_PREFIX, sequence_reserve(name="order")[0])


@transaction.atomic
def order_create(
    *,
    channel: Channel,
    customer: Customer,
    external_id: str,
    address: Address,
    lines: Sequence[LineInput],
    actor: Actor,
    placed_at: datetime | None = None,
    currency: str = "USD",
    shipping_amount: Decimal = Decimal("0"),
    tax_amount: Decimal = Decimal("0"),
    shipping_method: str = "",
    priority: int = Order.Priority.NORMAL,
    requested_delivery_date: date | None = None,
    allocate: bool = True,
    source: str = "admin",
) -> Order:
    """Record a new order with its lines and reserve stock for it."""
    if not lines:
        raise OrderError(f"Order {external_id} from {channel.name} has no lines.")
    for line in lines:
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise OrderError(
                f"Order {external_id}: the quantity of {line.product.sku} must be a "
                "whole number above zero."
            )
    if Order.objects.filter(channel=channel, external_id=external_id).exists():
        raise OrderError(
            f"{channel.name} order {external_id} is already in the system; "
            "it was not created twice."
        )
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    order = Order.objects.create(
        number=order_number_next(),
        channel=channel,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at or timezone.now(),
        currency=currency,
        subtotal=subtotal,
        shipping_amount=shipping_amount,
        tax_amount=tax_amount,
        total=subtotal + shipping_amount + tax_amount,
        shipping_method=shipping_method,
        priority=priority,
        requested_delivery_date=requested_delivery_date,
        **address.as_order_fields(),
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=line.product,
            sku=line.product.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    )
    events.order_event_placed(order=order, actor=actor, source=source)
    if allocate:
        # The new row is this transaction's own: no lock to take again.
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
    customer_email_queue(order=order, kind=CustomerEmail.Kind.RECEIVED)
    return order


@transaction.atomic
def order_update(
    *,
    order: Order,
    actor: Actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> Order:
    """Change the ship-to address or delivery details of an order not yet packed.

    A new destination country re-routes the reservation, since not every
    location ships everywhere.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderError(
            "These order fields cannot be changed here: " + ", ".join(sorted(unknown))
        )
    order = lock_order(order.pk)
    if expected_version is not None and order.version != expected_version:
        raise OrderConflictError(
            f"{order} was changed by someone else while you were editing it; your "
            "changes were not saved. Reload the page to see the new version."
        )
    if not order.is_editable:
        raise OrderStateError(
            f"Order {order.number} is {order.get_status_display()}; its address and "
            "delivery can no longer be changed. Contact the carrier instead."
        )
    if "ship_country" in changes:
        changes["ship_country"] = str(changes["ship_country"]).upper()
    diff = {
        name: (getattr(order, name), value)
        for name, value in changes.items()
        if getattr(order, name) != value
    }
    if not diff:
        return order
    for name, (_, value) in diff.items():
        setattr(order, name, value)
    order.save(update_fields=[*diff, "updated_at"])
    events.order_event_updated(order=order, actor=actor, changes=diff)
    if "ship_country" in diff and order.status in (S.ALLOCATED, S.BACKORDERED):
        stock_release(order_line_ids=order.lines.values_list("pk", flat=True))
        events.order_event_stock_released(
            order=order, actor=actor, reason="destination country changed"
        )
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
    return order
