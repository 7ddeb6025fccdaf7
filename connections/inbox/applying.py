"""What a message asks of the orders app, done through its services: take a
new order in, change an order's address, cancel an order.

A message met while draining carries the batch (`Batch`): a new order is left
for the batch to write with the others (`DEFERRED`); a message that needs an
order of the same batch written first says so (`AFTER_BATCH`) and is applied
again once the batch is written. The batch's state is passed, never kept in
the thread.
"""

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import IntegrityError, transaction

from connections.inbox.allocating import inbound_allocate_wake
from connections.inbox.changing import change_check
from connections.inbox.messages import api_answered
from connections.inbox.payload import FieldProblem, PayloadError
from connections.models import InboundMessage
from inventory.models import Product
from orders import events
from orders.addresses import SHIP_TO_FIELDS, Address
from orders.exceptions import OrderError, OrderStateError
from orders.importing.validate import ParsedOrder
from orders.models import Channel, Order, OrderStatus
from orders.services.lifecycle import order_cancel
from orders.services.order_edits import order_notes_update, order_update
from orders.services.orders import (
    LineInput,
    NewOrder,
    OrderNotes,
    order_create_one,
)
from orders.services.payment import order_payment_update

logger = logging.getLogger("oms.inbox")

Status = InboundMessage.Status
Source = InboundMessage.Source
# An order creation left for the batch to write (`Batch.pending`).
DEFERRED = "deferred"
# A message that needs the batch's new orders written first.
AFTER_BATCH = "after_batch"
# The order fields a channel's update may change (as staff may, before packing).
UPDATABLE = (*SHIP_TO_FIELDS, "shipping_method")


@dataclass
class Outcome:
    """What processing a message did."""

    status: str
    order: Order | None = None
    error: str = ""
    problems: list[FieldProblem] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.status == Status.PROCESSED and not self.error


@dataclass
class Batch:
    """What a drain's batch knows while its messages are applied: the new
    orders it will write (by channel and external id), the products read, and
    the orders its messages named that were not in the system when it began."""

    missing: dict[tuple[int, str], None]
    pending: dict[tuple[int, str], tuple[InboundMessage, NewOrder]] = field(
        default_factory=dict
    )
    products: dict[str, Product] = field(default_factory=dict)

    @classmethod
    def of(cls, messages: list[InboundMessage]) -> "Batch":
        """The batch of these messages, the orders they name read at once."""
        return cls(missing=orders_missing(messages))


def orders_missing(messages: list[InboundMessage]) -> dict[tuple[int, str], None]:
    """The orders the messages name (by the external id read when each was
    stored) that are not in the system: one query for the batch."""
    wanted = {(m.channel_id, m.external_id) for m in messages if m.external_id}
    found: dict[tuple[int, str], None] = dict.fromkeys(wanted)
    if wanted:
        existing = Order.objects.filter(
            channel_id__in={channel_id for channel_id, _ in wanted},
            external_id__in={external_id for _, external_id in wanted},
        ).values_list("channel_id", "external_id")
        for key in existing:
            found.pop(key, None)
    return found


def message_body(message: InboundMessage) -> Any:
    """The message's body read as JSON; PayloadError when it is not."""
    try:
        return json.loads(message.body)
    except (ValueError, RecursionError) as error:
        raise PayloadError(
            [FieldProblem("(body)", f"is not JSON ({error}).")]
        ) from error


def order_find(channel: Channel, external_id: str, batch: Batch | None) -> Order | None:
    """The channel's order with this external id, or None."""
    if not external_id:
        return None
    if batch is not None and batch.missing.get((channel.pk, external_id), "") is None:
        # Not in the system when the batch began (read for all at once); one
        # made since would be in this batch's pending creations.
        return None
    return Order.objects.filter(channel=channel, external_id=external_id).first()


def products_of(skus: set[str], batch: Batch | None = None) -> dict[str, Product]:
    """The products of these SKUs (read once per batch while draining)."""
    if batch is None:
        return {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    known = batch.products
    if missing := skus - known.keys():
        known.update({p.sku: p for p in Product.objects.filter(sku__in=missing)})
    return {sku: known[sku] for sku in skus if sku in known}


def skus_wanted(parsed: ParsedOrder) -> set[str]:
    """The SKUs the order's lines name (a line that does not ship may name
    none)."""
    return {line.sku for line in parsed.lines if line.sku}


def skus_unknown(parsed: ParsedOrder, products: dict[str, Product]) -> list:
    """A problem for each line that ships and whose SKU no product has, naming
    the line by its name and the shop's id of it. A line that does not ship
    (a gift card, a custom item) may name a SKU the system does not know."""
    return [
        FieldProblem(
            f"lines[{line.row}].sku",
            line.named(
                f"unknown SKU {line.sku!r}: add the product or correct the SKU."
            ),
        )
        for line in parsed.lines
        if line.requires_shipping and line.sku not in products
    ]


def new_order_of(
    *,
    channel: Channel,
    message_id: int | None,
    parsed: ParsedOrder,
    products: dict[str, Product],
    number: str = "",
) -> NewOrder:
    """The order a checked body describes, as the orders app writes it."""
    values = parsed.values
    return NewOrder(
        channel=channel,
        external_id=parsed.external_id,
        platform_id=values.get("platform_id", ""),
        email=values["email"],
        customer_name=values.get("customer_name") or values.get("ship_name", ""),
        customer_phone=values.get("phone", ""),
        address=Address(
            name=values["ship_name"],
            company=values.get("ship_company", ""),
            address1=values["ship_address1"],
            address2=values.get("ship_address2", ""),
            city=values["ship_city"],
            region=values.get("ship_region", ""),
            postcode=values.get("ship_postcode", ""),
            country=parsed.country,
            phone=values.get("ship_phone") or values.get("phone", ""),
        ),
        lines=[
            LineInput(
                product=products.get(line.sku),
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_amount=line.discount_amount,
                total=line.total,
                requires_shipping=line.requires_shipping,
                sku=line.sku,
                name=line.name,
                external_id=line.external_id,
            )
            for line in parsed.lines
        ],
        placed_at=parsed.placed_at,
        currency=parsed.currency,
        shipping_amount=parsed.shipping_amount,
        tax_amount=parsed.tax_amount,
        discount_amount=parsed.discount_amount,
        shipping_discount=parsed.shipping_discount,
        prices_include_tax=parsed.prices_include_tax,
        stated_total=parsed.stated_total,
        notes=OrderNotes(
            note=parsed.note,
            note_attributes=parsed.note_attributes,
            discount_codes=parsed.discount_codes,
            financial_status=parsed.financial_status,
        ),
        shipping_method=values.get("shipping_method", ""),
        # As the CSV import does: taken, held until someone checks it (before
        # the intake rules run, so they see the hold).
        address_problem=parsed.address_problem,
        inbound_message_id=message_id,
        number=number,
    )


def order_take(
    message: InboundMessage, parsed: ParsedOrder, batch: Batch | None
) -> Outcome:
    """Take a new order in (or find it there already)."""
    channel = message.channel
    existing = order_find(channel, parsed.external_id, batch)
    if existing is not None:
        return Outcome(Status.DUPLICATE, existing)
    products = products_of(skus_wanted(parsed), batch)
    unknown = skus_unknown(parsed, products)
    if unknown:
        raise PayloadError(unknown)
    # An API order is written with the number and time it was answered with.
    number, taken_at = api_answered(message)
    new = new_order_of(
        channel=channel,
        message_id=message.pk,
        parsed=parsed,
        products=products,
        number=number,
    )
    if taken_at is not None and parsed.placed_at is None:
        new = replace(new, placed_at=taken_at)
    if batch is not None:
        # Draining: taken in with the rest of the batch (`orders_create_many`).
        if (channel.pk, new.external_id) in batch.pending:
            return Outcome(AFTER_BATCH)  # a second message for a batch's order
        batch.pending[(channel.pk, new.external_id)] = (message, new)
        return Outcome(DEFERRED)
    # An API order processed alone (a cancel before the worker took it up, or
    # the immediate task backend) is allocated after commit
    # (`inbound_allocate`): no stock level is locked here.
    deferred = message.source == Source.API
    try:
        with transaction.atomic():
            # One order through the set-based path: a fixed, small number of
            # statements.
            order = order_create_one(
                order=new,
                actor=None,
                source=message.get_source_display(),
                allocate=not deferred,
            )
    except (IntegrityError, OrderError):
        # The same order arrived by another message a moment ago.
        existing = order_find(channel, parsed.external_id, None)
        if existing is None:
            raise
        return Outcome(Status.DUPLICATE, existing)
    if deferred and order.status == OrderStatus.PENDING:
        transaction.on_commit(inbound_allocate_wake)
    return Outcome(Status.PROCESSED, order)


def order_change(
    message: InboundMessage, order: Order, api_body: dict, platform: str
) -> Outcome:
    """Apply what a shop changed of an order, checked as an update
    (`changing.change_check`: its lines, customer and money were checked when
    the order came and are not checked again, so a line the shop added since,
    say without a SKU, does not refuse the change): its payment state (an
    order awaiting payment is released when paid), its note and note
    attributes (whatever its status), its address and shipping (until
    packed)."""
    parsed = change_check(api_body)
    order = order_news_apply(message, order, parsed, platform)
    values = parsed.values
    wanted = {
        **{name: values.get(name, "") for name in UPDATABLE},
        "ship_country": parsed.country,
        "ship_phone": values.get("ship_phone") or values.get("phone", ""),
    }
    changes = {
        name: value
        for name, value in wanted.items()
        if str(getattr(order, name) or "") != value
    }
    if not changes:
        return Outcome(Status.PROCESSED, order)
    try:
        with transaction.atomic():
            result = order_update(order=order, actor=None, changes=changes)
    except OrderStateError as refusal:
        described = ", ".join(
            str(Order._meta.get_field(name).verbose_name) for name in changes
        )
        text = f"{platform} sent a change ({described}) that was not applied: {refusal}"
        note_once(order, text, message)
        return Outcome(Status.PROCESSED, order, error=text)
    return Outcome(Status.PROCESSED, result.order)


def order_news_apply(
    message: InboundMessage, order: Order, parsed: ParsedOrder, platform: str
) -> Order:
    """Apply a shop's update of an order's payment state and notes: a state
    the shop did not send ("") changes nothing; the notes are as sent."""
    with transaction.atomic():
        if parsed.financial_status and parsed.financial_status != (
            order.financial_status
        ):
            order = order_payment_update(
                order=order,
                financial_status=parsed.financial_status,
                actor=None,
                source=platform,
                inbound_message_id=message.pk,
            )
        if (parsed.note, parsed.note_attributes) != (
            order.note,
            order.note_attributes,
        ):
            order = order_notes_update(
                order=order,
                actor=None,
                note=parsed.note,
                note_attributes=parsed.note_attributes,
                inbound_message_id=message.pk,
            )
    return order


def order_drop(
    message: InboundMessage,
    order: Order | None,
    external_id: str,
    platform: str,
    batch: Batch | None,
    reported: str = "",
) -> Outcome:
    """Cancel the order a shop cancelled, where its state allows."""
    if order is None:
        if batch is not None and (message.channel_id, external_id) in batch.pending:
            return Outcome(AFTER_BATCH)  # cancelled in the batch that takes it in
        return order_early(
            message,
            external_id,
            reported or f"{platform} cancelled order {external_id}",
        )
    if order.status == OrderStatus.CANCELLED:
        return Outcome(Status.DUPLICATE, order)
    try:
        with transaction.atomic():
            order = order_cancel(
                order=order, actor=None, reason=f"cancelled in {platform}"
            )
    except OrderStateError as refusal:
        text = f"{platform} cancelled the order; not applied here: {refusal}"
        note_once(order, text, message)
        return Outcome(Status.PROCESSED, order, error=text)
    return Outcome(Status.PROCESSED, order)


def order_early(message: InboundMessage, external_id: str, reported: str) -> Outcome:
    """Keep a message about an order that is not here yet (a cancellation
    delivered before the order; `reported` says what the shop reported): it
    is applied when the order arrives (`processing.early_messages_apply`), so
    a late order is not taken in as if nothing had happened to it."""
    if not external_id:
        return Outcome(Status.IGNORED, error=f"{reported}, without an order number.")
    return Outcome(
        Status.EARLY,
        error=f"{reported}; the order is not here yet: kept, and applied when "
        "it arrives.",
    )


def note_once(order: Order, text: str, message: InboundMessage) -> None:
    """Put a refused change on the timeline, once however often it is resent."""
    if not order.events.filter(kind=events.Kind.CHANNEL, message=text).exists():
        events.order_event_channel(
            order=order, message=text, inbound_message_id=message.pk
        )
