"""Timeline entries: one keyword-only factory per kind of event."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from core.bulk import bulk_insert
from orders.addresses import country_name
from orders.models import FinancialStatus, Order, OrderEvent, OrderStatus

Kind = OrderEvent.Kind
Actor = AbstractBaseUser | None


def _event(
    *,
    order: Order | int,
    kind: str,
    message: str,
    actor: Actor,
    data: dict[str, Any] | None = None,
    save: bool = True,
) -> OrderEvent:
    """Build a timeline entry; bulk paths pass save=False (and may pass the
    order's id) and write them with `order_events_insert`."""
    user = actor if actor is not None and actor.is_authenticated else None
    target = {"order_id": order} if isinstance(order, int) else {"order": order}
    message, data = _by_customer(actor, message, data)
    event = OrderEvent(**target, kind=kind, message=message, user=user, data=data)
    if save:
        event.save()
    return event


def _by_customer(
    actor: Actor, message: str, data: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """Mark an entry written for the customer on their order page (a
    `CustomerActor`): *by the customer*, with their address and the time."""
    data = dict(data or {})
    if hasattr(actor, "timeline_data"):
        data.update(actor.timeline_data())
        message += actor.timeline_suffix()
    return message, data


def order_event_placed(
    *,
    order: Order,
    actor: Actor,
    source: str = "admin",
    inbound_message_id: int | None = None,
    save: bool = True,
) -> OrderEvent:
    data: dict[str, Any] = {"source": source}
    if inbound_message_id is not None:
        data["inbound_message"] = inbound_message_id
    return _event(
        order=order,
        kind=Kind.PLACED,
        message=f"Order placed via {order.channel.name} ({source}).",
        actor=actor,
        data=data,
        save=save,
    )


def order_event_channel(
    *, order: Order, message: str, inbound_message_id: int | None = None
) -> OrderEvent:
    """What a channel sent that was not applied, and why (an update after
    packing, a cancel after shipping)."""
    data = {} if inbound_message_id is None else {"inbound_message": inbound_message_id}
    return _event(
        order=order, kind=Kind.CHANNEL, message=message, actor=None, data=data
    )


def _reserved_text(reserved: dict[str, list[tuple[str, int]]]) -> str:
    parts = [
        f"{location}: " + ", ".join(f"{qty} × {sku}" for sku, qty in items)
        for location, items in sorted(reserved.items())
    ]
    return "Stock reserved at " + "; ".join(parts) + "."


def _short_text(short: dict[str, int], no_location_ships_to: str = "") -> str:
    """Why an order waits: stock still to arrive, or — when no location
    ships to its country, no stock ever will — that."""
    if no_location_ships_to:
        return (
            f"No location ships to {country_name(no_location_ships_to)}: add the "
            "country to a location's shipping countries or cancel the order."
        )
    missing = ", ".join(f"{qty} × {sku}" for sku, qty in sorted(short.items()))
    return f"Waiting for stock: {missing}."


def _short_data(short: dict[str, int], no_location_ships_to: str) -> dict[str, Any]:
    data: dict[str, Any] = {"short": short}
    if no_location_ships_to:
        data["no_location_ships_to"] = no_location_ships_to
    return data


def order_event_allocated(
    *,
    order: Order | int,
    actor: Actor,
    reserved: dict[str, list[tuple[str, int]]],
    save: bool = True,
) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.ALLOCATED,
        message=_reserved_text(reserved),
        actor=actor,
        data={"reserved": reserved},
        save=save,
    )


def order_event_backordered(
    *,
    order: Order | int,
    actor: Actor,
    short: dict[str, int],
    no_location_ships_to: str = "",
    save: bool = True,
) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.BACKORDERED,
        message=_short_text(short, no_location_ships_to),
        actor=actor,
        data=_short_data(short, no_location_ships_to),
        save=save,
    )


# Rows for `order_events_insert`: the same entries as the factories above,
# as plain values, for set-based paths writing tens of thousands at once.


def _user_id(actor: Actor) -> int | None:
    return actor.pk if actor is not None and actor.is_authenticated else None


def _with_routing(data: dict[str, Any], routing: dict | None) -> dict[str, Any]:
    """Add why allocation routed the order so (`inventory.allocation.
    routing_record`); the order page shows it under the entry."""
    return {**data, "routing": routing} if routing else data


def order_event_allocated_row(
    *,
    order_id: int,
    actor: Actor,
    reserved: dict[str, list[tuple[str, int]]],
    routing: dict | None = None,
) -> dict[str, Any]:
    message, data = _by_customer(
        actor, _reserved_text(reserved), _with_routing({"reserved": reserved}, routing)
    )
    return {
        "order_id": order_id,
        "kind": Kind.ALLOCATED,
        "message": message,
        "user_id": _user_id(actor),
        "data": data,
    }


def order_event_backordered_row(
    *,
    order_id: int,
    actor: Actor,
    short: dict[str, int],
    routing: dict | None = None,
    no_location_ships_to: str = "",
) -> dict[str, Any]:
    """The backordered entry; `no_location_ships_to` (the order's country)
    when no active location ships there, which no stock arriving changes."""
    message, data = _by_customer(
        actor,
        _short_text(short, no_location_ships_to),
        _with_routing(_short_data(short, no_location_ships_to), routing),
    )
    return {
        "order_id": order_id,
        "kind": Kind.BACKORDERED,
        "message": message,
        "user_id": _user_id(actor),
        "data": data,
    }


def order_event_nothing_to_ship_row(
    *, order_id: int, actor: Actor, previous: str
) -> dict[str, Any]:
    """An order with no line that ships is complete at once (delivered)."""
    message, data = _by_customer(
        actor,
        NOTHING_TO_SHIP,
        {"from": previous, "to": OrderStatus.DELIVERED},
    )
    return {
        "order_id": order_id,
        "kind": Kind.STATUS,
        "message": message,
        "user_id": _user_id(actor),
        "data": data,
    }


NOTHING_TO_SHIP = (
    "Nothing to ship: every line is a gift card, digital or custom item, which "
    "the shop hands over itself. Complete without a shipment (delivered)."
)


def order_event_stock_released(
    *, order: Order, actor: Actor, reason: str
) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.RELEASED_STOCK,
        message=f"Reserved stock given back ({reason}).",
        actor=actor,
    )


def order_event_status(
    *, order: Order, actor: Actor, previous: str, message: str
) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.STATUS,
        message=message,
        actor=actor,
        data={"from": previous, "to": order.status},
    )


def order_event_held(
    *,
    order: Order,
    actor: Actor,
    note: str,
    save: bool = True,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """The order went on hold; `data` adds figures (a total that differs:
    the shop's and ours)."""
    text = f"Put on hold: {order.get_hold_reason_display()}."
    if note:
        text += f" {note}"
    return _event(
        order=order,
        kind=Kind.HELD,
        message=text,
        actor=actor,
        data={"reason": order.hold_reason, "from": order.held_from, **(data or {})},
        save=save,
    )


def order_event_released(*, order: Order, actor: Actor) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.RELEASED,
        message=f"Released from hold, back to {order.get_status_display()}.",
        actor=actor,
    )


def order_event_cancelled(*, order: Order, actor: Actor, reason: str) -> OrderEvent:
    return _event(
        order=order,
        kind=Kind.CANCELLED,
        message=f"Cancelled: {reason}" if reason else "Cancelled.",
        actor=actor,
        data={"reason": reason},
    )


def order_event_updated(
    *, order: Order, actor: Actor, changes: dict[str, tuple[Any, Any]]
) -> OrderEvent:
    described = "; ".join(
        f"{Order._meta.get_field(name).verbose_name}: {old or '—'} → {new or '—'}"
        for name, (old, new) in changes.items()
    )
    return _event(
        order=order,
        kind=Kind.UPDATED,
        message=f"Changed {described}.",
        actor=actor,
        data={name: [str(old), str(new)] for name, (old, new) in changes.items()},
    )


def order_event_payment(
    *,
    order: Order,
    actor: Actor,
    previous: str,
    source: str = "",
    inbound_message_id: int | None = None,
) -> OrderEvent:
    """The shop reported a new payment state."""
    labels = dict(FinancialStatus.choices)
    before = labels.get(previous, previous) or "not given"
    after = labels.get(order.financial_status, order.financial_status) or "not given"
    by = f" ({source})" if source else ""
    data: dict[str, Any] = {"financial_status": [previous, order.financial_status]}
    if inbound_message_id is not None:
        data["inbound_message"] = inbound_message_id
    return _event(
        order=order,
        kind=Kind.UPDATED,
        message=f"Payment: {before} → {after}{by}.",
        actor=actor,
        data=data,
    )


def order_event_notes(
    *,
    order: Order,
    actor: Actor,
    changes: dict[str, tuple[Any, Any]],
    inbound_message_id: int | None = None,
) -> OrderEvent:
    """The order's note or note attributes changed (by the shop, or a person)."""
    parts = []
    if "note" in changes:
        parts.append(f"note: {changes['note'][1] or '—'}")
    if "note_attributes" in changes:
        attributes = changes["note_attributes"][1]
        parts.append(
            "note attributes: "
            + (
                "; ".join(f"{a['name']}: {a['value']}" for a in attributes)
                if attributes
                else "—"
            )
        )
    data: dict[str, Any] = {name: [old, new] for name, (old, new) in changes.items()}
    if inbound_message_id is not None:
        data["inbound_message"] = inbound_message_id
    return _event(
        order=order,
        kind=Kind.UPDATED,
        message=f"Changed {'; '.join(parts)}.",
        actor=actor,
        data=data,
    )


def order_event_shipped(*, order: Order, actor: Actor, message: str) -> OrderEvent:
    return _event(order=order, kind=Kind.SHIPPED, message=message, actor=actor)


def order_event_fulfillment(
    *,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
    save: bool = True,
) -> OrderEvent:
    """A step of one of the order's shipments (pick list, packed, delivered)."""
    return _event(
        order=order,
        kind=Kind.STATUS,
        message=message,
        actor=actor,
        data=data,
        save=save,
    )


def order_event_document(
    *,
    order: Order | int,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """Build (unsaved) a 'document printed' entry; the caller bulk-creates them."""
    order_id = order if isinstance(order, int) else order.pk
    user = actor if actor is not None and actor.is_authenticated else None
    message, data = _by_customer(actor, message, data)
    return OrderEvent(
        order_id=order_id,
        kind=Kind.DOCUMENT,
        message=message,
        user=user,
        data=data,
    )


def order_event_email(
    *, order: Order, message: str, data: dict[str, Any], save: bool = True
) -> OrderEvent:
    return _event(
        order=order, kind=Kind.EMAIL, message=message, actor=None, data=data, save=save
    )


def order_event_email_row(
    *, order_id: int, message: str, data: dict[str, Any]
) -> dict[str, Any]:
    """An e-mail's timeline row, for `order_events_insert` (bulk sending)."""
    return {
        "order_id": order_id,
        "kind": Kind.EMAIL,
        "message": message,
        "user_id": None,
        "data": data,
    }


def order_event_return(
    *,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """A step of one of the order's returns (opened, approved, received …)."""
    return _event(
        order=order, kind=Kind.RETURN, message=message, actor=actor, data=data
    )


def order_event_refund(
    *,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """A refund proposed, approved or rejected on the order."""
    return _event(
        order=order, kind=Kind.REFUND, message=message, actor=actor, data=data
    )


def order_event_tracking(
    *,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """What a carrier reported about one of the order's shipments."""
    return _event(
        order=order, kind=Kind.TRACKING, message=message, actor=actor, data=data
    )


def order_event_customer_request(
    *,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """A request a customer sent from their order page, or its answer."""
    return _event(
        order=order, kind=Kind.UPDATED, message=message, actor=actor, data=data
    )


def order_events_insert(rows: Iterable[dict[str, Any]]) -> None:
    """Write timeline rows (from the `*_row` builders) in bulk: COPY on
    PostgreSQL."""
    now = timezone.now()
    bulk_insert(OrderEvent, ({**row, "created_at": now} for row in rows))
