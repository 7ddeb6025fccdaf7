"""The changes a person makes to an order before it is packed: ship-to
address and delivery details, the reservation re-routed when the country
changes.

Each service reads top to bottom: lock, check, act, record, notify after
commit.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_countries import countries

from core.users import Actor
from inventory.models import Allocation, Location
from inventory.services import stock_release
from orders import events
from orders.addresses import SHIP_TO_FIELDS, country_name
from orders.bounds import order_dates_problems
from orders.exceptions import OrderConflictError, OrderError, OrderStateError
from orders.locks import lock_order
from orders.models import Order, OrderStatus
from orders.notes import notes_problem
from orders.services.allocation import orders_allocate_locked

# Fields a person may change on an order until it is packed.
EDITABLE_FIELDS = (
    *SHIP_TO_FIELDS,
    "shipping_method",
    "requested_delivery_date",
    "priority",
    "postage_carrier",
    "postage_service",
    "rate_preference",
)


@dataclass(frozen=True)
class OrderUpdate:
    """What `order_update` did: the order, and what the person should know
    about its stock (a reservation moved, or given back)."""

    order: Order
    notices: tuple[str, ...] = ()


def _reserved_at(order: Order) -> list[str]:
    """The codes of the locations holding stock for the order, sorted."""
    return sorted(
        set(
            Allocation.objects.filter(order_line__order_id=order.pk).values_list(
                "stock_level__location__code", flat=True
            )
        )
    )


def _reroute_notices(order: Order, before: list[str], after: list[str]) -> list[str]:
    """Say what re-routing the reservation did, in words for the screen."""
    notices = []
    if before and after and before != after:
        notices.append(
            f"Reservation of order {order.number} moved from {', '.join(before)} "
            f"to {', '.join(after)} (the new country is {country_name(order.ship_country)})."
        )
    if order.status == OrderStatus.BACKORDERED and (before or not after):
        country = country_name(order.ship_country)
        ships = any(
            location.can_ship_to(order.ship_country)
            for location in Location.objects.filter(active=True)
        )
        why = (
            f"not enough stock at the locations that ship to {country}"
            if ships
            else f"no location ships to {country}"
        )
        released = "Stock released" if before else "No stock reserved"
        notices.append(
            f"{released}: order {order.number} is backordered because {why}."
        )
    return notices


@transaction.atomic
def order_update(
    *,
    order: Order,
    actor: Actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> OrderUpdate:
    """Change the ship-to address or delivery details of an order not yet packed.

    A new destination country re-routes the reservation, since not every
    location ships everywhere; the result's `notices` say where the stock
    went, or that it was given back.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderError(
            "These order fields cannot be changed here: " + ", ".join(sorted(unknown))
        )
    if "ship_country" in changes:
        code = str(changes["ship_country"]).strip().upper()
        if code not in countries:
            raise OrderError(
                f"{code!r} is not a country code; choose the country from the list."
            )
        changes["ship_country"] = code
    for name, problem in order_dates_problems(changes).items():
        label = Order._meta.get_field(name).verbose_name
        raise OrderError(f"{label.capitalize()}: {problem}")
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
    diff = {
        name: (_stored(order, name), value)
        for name, value in changes.items()
        if _stored(order, name) != value
    }
    if not diff:
        return OrderUpdate(order=order)
    for name, (_, value) in diff.items():
        setattr(order, name, value)
    if bool(order.postage_carrier) != bool(order.postage_service):
        raise OrderError(
            f"Order {order.number}: give both the postage carrier and the service "
            "(e.g. USPS and Priority), or neither."
        )
    order.save(update_fields=[*diff, "updated_at"])
    events.order_event_updated(order=order, actor=actor, changes=diff)
    notices: list[str] = []
    if "ship_country" in diff and order.status in (
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
    ):
        before = _reserved_at(order)
        stock_release(order_line_ids=order.lines.values_list("pk", flat=True))
        events.order_event_stock_released(
            order=order, actor=actor, reason="destination country changed"
        )
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
        notices = _reroute_notices(order, before, _reserved_at(order))
    return OrderUpdate(order=order, notices=tuple(notices))


def _stored(order: Order, name: str) -> Any:
    """The field's value as the timeline stores it (a country as its code)."""
    value = getattr(order, name)
    return str(value) if name == "ship_country" else value


@transaction.atomic
def order_notes_update(
    *,
    order: Order,
    actor: Actor,
    note: str,
    note_attributes: list[dict[str, str]],
    inbound_message_id: int | None = None,
) -> Order:
    """Change the customer's note and note attributes (gift message, delivery
    instructions) of an order, whatever its status: the shop's
    `orders/updated`, or a person. Nothing changes when they are the same."""
    if problem := notes_problem(note, note_attributes):
        raise OrderError(f"Order {order.number}: {problem}")
    order = lock_order(order.pk)
    wanted = {"note": note, "note_attributes": list(note_attributes)}
    diff = {
        name: (getattr(order, name), value)
        for name, value in wanted.items()
        if getattr(order, name) != value
    }
    if not diff:
        return order
    for name, (_, value) in diff.items():
        setattr(order, name, value)
    order.save(update_fields=[*diff, "updated_at"])
    events.order_event_notes(
        order=order, actor=actor, changes=diff, inbound_message_id=inbound_message_id
    )
    return order
