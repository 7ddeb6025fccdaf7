"""The inbox: every order message a channel sends, stored raw first.

A message is stored (one INSERT, together with the task that will process
it) before it is answered, so nothing acknowledged is lost; a second
delivery with the same delivery id is recognised by a unique constraint and
changes nothing. The task applies the message through the same validator and
services as every other source (`payload_check`, `order_create`,
`order_update`, `order_cancel`), under a lock on the message row: a task run
twice (its worker died and it was queued again) applies it once. Whatever
fails is recorded on the message, listed in the admin, and can be replayed.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from core.exceptions import DomainError
from core.users import Actor
from inventory.models import Product
from orders import events
from orders.addresses import Address
from orders.exceptions import OrderStateError
from orders.importing.validate import ParsedOrder
from orders.intake import shopify, woocommerce
from orders.intake.payload import FieldProblem, PayloadError, payload_check
from orders.models import Channel, HoldReason, InboundMessage, Order, OrderStatus
from orders.services.lifecycle import order_cancel, order_hold
from orders.services.orders import (
    LineInput,
    customer_get_or_create,
    order_create,
    order_update,
)

logger = logging.getLogger("oms.inbox")

Status = InboundMessage.Status
Source = InboundMessage.Source
API_CREATE = "orders/create"
# The order fields a channel's update may change (as staff may, before packing).
UPDATABLE = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "ship_phone",
    "shipping_method",
)


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


# ---- storing


def _clean_text(text: str) -> str:
    # No text column holds NUL; a body with one is kept, visibly marked.
    return text.replace("\x00", "\ufffd")


def inbound_store(
    *,
    channel: Channel,
    source: str,
    topic: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    delivery_id: str = "",
    idempotency_key: str = "",
    body_hash: str = "",
    external_id: str = "",
    process: bool = True,
) -> tuple[InboundMessage, bool]:
    """Store a message as it came; return it and whether it is new.

    A delivery id or idempotency key seen before returns the earlier message
    and False. With `process`, its processing is queued in the same
    transaction (the database queue), or right after it commits.
    """
    message = InboundMessage(
        channel=channel,
        source=source,
        topic=_clean_text(topic)[:64],
        delivery_id=_clean_text(delivery_id)[:128],
        idempotency_key=_clean_text(idempotency_key)[:255],
        body_hash=body_hash,
        external_id=_clean_text(external_id)[:64],
        body=_clean_text(body.decode("utf-8", "replace")),
        headers={k: _clean_text(v) for k, v in (headers or {}).items()},
    )
    queue_within = process and _queue_in_database()
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            if queue_within:
                inbound_process_task.enqueue(message.pk)
    except IntegrityError:
        earlier = _earlier(message)
        if earlier is None:
            raise
        return earlier, False
    if process and not queue_within:
        inbound_process_task.enqueue(message.pk)
    return message, True


def _earlier(message: InboundMessage) -> InboundMessage | None:
    found = InboundMessage.objects.filter(channel=message.channel)
    if message.idempotency_key:
        return found.filter(idempotency_key=message.idempotency_key).first()
    if message.delivery_id:
        return found.filter(
            source=message.source, delivery_id=message.delivery_id
        ).first()
    return None


def _queue_in_database() -> bool:
    """Whether the task queue is a table beside the messages: then a message
    and its task are stored in one transaction, together or not at all (and
    in one commit). Otherwise (the immediate backend) the task runs once the
    message is stored."""
    return settings.OMS_TASKS_BACKEND == "database"


# ---- processing


@task()
def inbound_process_task(message_id: int) -> str:
    return inbound_process(message_id=message_id).status


def inbound_process(*, message_id: int) -> Outcome:
    """Apply a stored message once: lock it, apply it, record the outcome."""
    with transaction.atomic():
        message = (
            InboundMessage.objects.select_for_update(of=("self",))
            .select_related("channel")
            .get(pk=message_id)
        )
        if message.status != Status.RECEIVED:
            # Done before (a task queued twice, or a replay that raced).
            return Outcome(message.status, message.order, message.error)
        message.attempts += 1
        try:
            with transaction.atomic():
                outcome = _apply(message)
        except PayloadError as error:
            outcome = Outcome(Status.FAILED, error=str(error), problems=error.problems)
        except DomainError as error:
            outcome = Outcome(Status.FAILED, error=str(error))
        except Exception as error:  # recorded on the message, for a Replay
            logger.exception("Inbound message %s failed", message.pk)
            outcome = Outcome(
                Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
            )
        message.status = outcome.status
        message.error = outcome.error
        message.order = outcome.order
        message.processed_at = timezone.now()
        if outcome.order is not None and not message.external_id:
            message.external_id = outcome.order.external_id
        message.save(
            update_fields=[
                "status",
                "error",
                "order",
                "processed_at",
                "attempts",
                "external_id",
            ]
        )
    return outcome


def _body(message: InboundMessage) -> Any:
    try:
        return json.loads(message.body)
    except ValueError as error:
        raise PayloadError(
            [FieldProblem("(body)", f"is not JSON ({error}).")]
        ) from error


def _apply(message: InboundMessage) -> Outcome:
    body = _body(message)
    if message.source == Source.API:
        if message.topic != API_CREATE:
            return Outcome(Status.IGNORED, error=f"Unknown topic {message.topic!r}.")
        return _create(message, payload_check(body))
    if message.source == Source.SHOPIFY:
        return _apply_shopify(message, body)
    if message.source == Source.WOOCOMMERCE:
        return _apply_woocommerce(message, body)
    return Outcome(Status.IGNORED, error=f"Unknown source {message.source!r}.")


def _find(channel: Channel, external_id: str) -> Order | None:
    if not external_id:
        return None
    return Order.objects.filter(channel=channel, external_id=external_id).first()


def _apply_shopify(message: InboundMessage, body: Any) -> Outcome:
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    external_id = shopify.shopify_external_id(body)
    order = _find(message.channel, external_id)
    cancelled = shopify.shopify_is_cancelled(body)
    if message.topic == "orders/cancelled" or (cancelled and order is not None):
        return _cancel(message, order, external_id, "Shopify")
    if cancelled:
        return Outcome(
            Status.IGNORED, error="Cancelled in Shopify before it came here."
        )
    if message.topic not in shopify.TOPICS:
        return Outcome(Status.IGNORED, error=f"Topic {message.topic!r} is not read.")
    api_body = shopify.shopify_order_body(body)
    if order is not None and message.topic == "orders/updated":
        return _update(message, order, api_body, "Shopify")
    return _create(message, payload_check(api_body))


def _apply_woocommerce(message: InboundMessage, body: Any) -> Outcome:
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    if message.topic == "order.deleted":
        external_id = str(body.get("id", "")).strip()
        order = _find(message.channel, external_id)
        return _cancel(message, order, external_id, "WooCommerce")
    if message.topic not in woocommerce.TOPICS:
        return Outcome(Status.IGNORED, error=f"Topic {message.topic!r} is not read.")
    external_id = woocommerce.woocommerce_external_id(body)
    order = _find(message.channel, external_id)
    status = woocommerce.woocommerce_status(body)
    if status in woocommerce.CANCELLED_STATUSES:
        if order is None:
            return Outcome(
                Status.IGNORED, error=f"Order {external_id} is {status} in WooCommerce."
            )
        return _cancel(message, order, external_id, "WooCommerce")
    api_body = woocommerce.woocommerce_order_body(body)
    if order is not None:
        return _update(message, order, api_body, "WooCommerce")
    if status not in woocommerce.IMPORTED_STATUSES:
        return Outcome(
            Status.IGNORED,
            error=f"Order {external_id} is {status or 'without a status'} in "
            "WooCommerce; it is taken once it is processing (paid).",
        )
    return _create(message, payload_check(api_body))


def _create(message: InboundMessage, parsed: ParsedOrder) -> Outcome:
    channel = message.channel
    existing = _find(channel, parsed.external_id)
    if existing is not None:
        return Outcome(Status.DUPLICATE, existing)
    skus = {line.sku for line in parsed.lines}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    unknown = [
        FieldProblem(
            f"lines[{line.row}].sku",
            f"unknown SKU {line.sku!r}: add the product or correct the SKU.",
        )
        for line in parsed.lines
        if line.sku not in products
    ]
    if unknown:
        raise PayloadError(unknown)
    values = parsed.values

    try:
        with transaction.atomic():
            customer = customer_get_or_create(
                email=values["email"],
                name=values.get("customer_name") or values.get("ship_name", ""),
                phone=values.get("phone", ""),
            )
            order = order_create(
                channel=channel,
                customer=customer,
                external_id=parsed.external_id,
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
                        product=products[line.sku],
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                    )
                    for line in parsed.lines
                ],
                actor=None,
                placed_at=parsed.placed_at,
                currency=parsed.currency,
                shipping_amount=parsed.shipping_amount,
                tax_amount=parsed.tax_amount,
                shipping_method=values.get("shipping_method", ""),
                allocate=not parsed.address_problem,
                source=message.get_source_display(),
                inbound_message_id=message.pk,
            )
            if parsed.address_problem:
                # As the CSV import does: taken, held until someone checks it.
                order = order_hold(
                    order=order,
                    actor=None,
                    reason=HoldReason.ADDRESS_CHECK,
                    note=parsed.address_problem,
                )
    except IntegrityError:
        # The same order arrived by another message a moment ago.
        existing = _find(channel, parsed.external_id)
        if existing is None:
            raise
        return Outcome(Status.DUPLICATE, existing)
    return Outcome(Status.PROCESSED, order)


def _update(
    message: InboundMessage, order: Order, api_body: dict, platform: str
) -> Outcome:
    parsed = payload_check(api_body)
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
        _note_once(order, text, message)
        return Outcome(Status.PROCESSED, order, error=text)
    return Outcome(Status.PROCESSED, result.order)


def _cancel(
    message: InboundMessage, order: Order | None, external_id: str, platform: str
) -> Outcome:
    if order is None:
        return Outcome(
            Status.IGNORED,
            error=f"{platform} cancelled order {external_id or '(no id)'}, which is "
            "not here.",
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
        _note_once(order, text, message)
        return Outcome(Status.PROCESSED, order, error=text)
    return Outcome(Status.PROCESSED, order)


def _note_once(order: Order, text: str, message: InboundMessage) -> None:
    """Put a refused change on the timeline, once however often it is resent."""
    if not order.events.filter(kind=events.Kind.CHANNEL, message=text).exists():
        events.order_event_channel(
            order=order, message=text, inbound_message_id=message.pk
        )


# ---- replay and the sweep


def inbound_replay(*, message: InboundMessage, actor: Actor) -> InboundMessage:
    """Process a message again (after fixing what made it fail)."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message.pk)
        if message.status == Status.RECEIVED:
            return message  # already waiting for the worker
        message.status = Status.RECEIVED
        message.error = ""
        message.save(update_fields=["status", "error"])
        if _queue_in_database():
            inbound_process_task.enqueue(message.pk)
    if not _queue_in_database():
        inbound_process_task.enqueue(message.pk)
    message.refresh_from_db()
    return message


@task()
def inbound_sweep() -> int:
    """Queue again the messages still waiting long after they came (their
    queued task was lost); processing each once is guarded by its lock."""
    before = timezone.now() - timedelta(seconds=settings.OMS_INBOX_SWEEP_AFTER_SECONDS)
    waiting = list(
        InboundMessage.objects.filter(
            status=Status.RECEIVED, received_at__lt=before
        ).values_list("pk", flat=True)[:1000]
    )
    for message_id in waiting:
        inbound_process_task.enqueue(message_id)
    return len(waiting)
