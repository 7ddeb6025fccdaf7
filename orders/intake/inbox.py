"""The inbox: every order message a channel sends, stored raw first.

A message is stored (one INSERT … ON CONFLICT DO NOTHING) before it is
answered, so nothing acknowledged is lost; a second delivery with the same
delivery id is recognised by a unique constraint and changes nothing. The
worker drains the inbox in batches (`inbound_drain`: one transaction per
batch, its messages locked with SKIP LOCKED) and applies each message through
the same validator and services as every other source (`payload_check`,
`orders_create_many` for a batch's new orders, `order_create_one` alone,
`order_update`, `order_cancel`): a worker killed mid-batch commits nothing,
and a message is applied once however often it is drained. Whatever fails is
recorded on the message, listed in the admin, and can be replayed.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django_tasks import task

from core.exceptions import DomainError
from core.faults import fault_pause
from core.users import Actor
from inventory.models import Product
from orders import events
from orders.addresses import Address
from orders.exceptions import OrderError, OrderStateError
from orders.importing.validate import ParsedOrder
from orders.intake import shopify, woocommerce
from orders.intake.payload import FieldProblem, PayloadError, payload_check
from orders.models import Channel, InboundMessage, Order, OrderStatus
from orders.services.allocation import orders_allocate_many
from orders.services.lifecycle import order_cancel
from orders.services.orders import (
    LineInput,
    NewOrder,
    order_create_one,
    order_number_next,
    order_update,
    orders_create_many,
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


# An order creation left for the batch (`_drain_batch`) to write.
DEFERRED = "deferred"
_batch = threading.local()


class _AfterBatch(Exception):
    """This message needs the batch's new orders written first."""


class _Raced(Exception):
    """Writing the order failed, maybe because the same order was made a
    moment ago by another message: decided once the savepoint is undone."""

    def __init__(self, external_id: str) -> None:
        super().__init__(external_id)
        self.external_id = external_id


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

    One statement: an INSERT that does nothing when the delivery id or
    idempotency key was seen before (then the earlier message and False come
    back). With `process`, the worker is woken to drain the inbox (at most one
    wake-up per process every `OMS_INBOX_WAKE_SECONDS`); with the immediate
    task backend the message is processed at once.
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
    for _ in range(3):
        message.pk = _insert_unless_seen(message)
        if message.pk is not None:
            break
        earlier = _earlier(message)
        if earlier is not None:
            return earlier, False
        # The earlier delivery was rolled back meanwhile: store this one.
    else:
        raise IntegrityError(f"Inbound message {message.delivery_id!r} not stored.")
    if process:
        if _queue_in_database():
            inbound_wake()
        else:
            inbound_process_task.enqueue(message.pk)
    return message, True


def _insert_unless_seen(message: InboundMessage) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new id, or None when a
    unique constraint (delivery id, idempotency key) already holds the row."""
    meta = InboundMessage._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for f in fields:
        f.pre_save(message, add=True)
    connection = connections[router.db_for_write(InboundMessage)]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    params = [
        f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    message._state.adding = False
    message._state.db = connection.alias
    return row[0]


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
    """Whether tasks go to the database queue (run by `manage.py worker`);
    otherwise (the immediate backend) a task runs where it is enqueued."""
    return settings.OMS_TASKS_BACKEND == "database"


# When this process last queued each wake-up task (time.monotonic()).
_woken_until: dict[str, float] = {}
_wake_lock = threading.Lock()


def inbound_wake() -> None:
    """Queue a drain of the inbox, unless this process queued one that has not
    started yet.

    The drain is queued to start `OMS_INBOX_WAKE_SECONDS` from now, so it sees
    every message stored until then: one task row per process and interval
    however many webhooks arrive, and none when nothing arrives.
    """
    _wake_once(inbound_drain_task)


def _wake_once(task_) -> None:
    """Queue `task_` to start `OMS_INBOX_WAKE_SECONDS` from now, unless this
    process queued it within that time (it has not started yet)."""
    delay = settings.OMS_INBOX_WAKE_SECONDS
    now = time.monotonic()
    with _wake_lock:
        if now < _woken_until.get(task_.name, 0.0):
            return
        _woken_until[task_.name] = now + delay
    run_after = timezone.now() + timedelta(seconds=delay)
    task_.using(run_after=run_after).enqueue()


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
        return _process_one(message)


def inbound_apply_locked(
    *, message: InboundMessage, prepared: "Prepared | None" = None
) -> Outcome:
    """Apply a message the caller holds locked (or has just inserted, in its
    own transaction) and record the outcome on it. An API order `prepared`
    (`inbound_api_prepare`) is taken in as checked then, with its number."""
    if message.status != Status.RECEIVED:
        # Done before (a task queued twice, or a replay that raced).
        return Outcome(message.status, message.order, message.error)
    message.attempts += 1
    try:
        with transaction.atomic():
            outcome = _apply(message, prepared)
    except _AfterBatch:
        message.attempts -= 1
        raise
    except _Raced as raced:
        outcome = _raced(message, raced)
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
    return outcome


def _raced(message: InboundMessage, raced: _Raced) -> Outcome:
    """The outcome of a message whose order could not be written: a duplicate
    when the order is there now, else the failure."""
    existing = _find(message.channel, raced.external_id)
    if existing is not None:
        return Outcome(Status.DUPLICATE, existing)
    error = raced.__cause__
    if isinstance(error, DomainError):
        return Outcome(Status.FAILED, error=str(error))
    logger.error("Inbound message %s failed: %r", message.pk, error)
    return Outcome(Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000])


def inbound_outcome_save(*, message: InboundMessage, **extra: Any) -> None:
    """Write what processing did to the message row (and `extra` fields)."""
    for name, value in extra.items():
        setattr(message, name, value)
    message.save(
        update_fields=[
            "status",
            "error",
            "order",
            "processed_at",
            "attempts",
            "external_id",
            *extra,
        ]
    )


def _process_one(message: InboundMessage) -> Outcome:
    if message.status != Status.RECEIVED:
        return Outcome(message.status, message.order, message.error)
    outcome = inbound_apply_locked(message=message)
    inbound_outcome_save(message=message)
    return outcome


# ---- draining the inbox in batches


def inbound_drain(
    *, received_before: datetime | None = None, budget_seconds: float | None = None
) -> int:
    """Process waiting messages, oldest first, in batches; return how many.

    Each batch is one transaction holding its messages locked (`SKIP LOCKED`:
    several workers drain side by side, never the same message). A worker
    killed mid-batch commits nothing: its messages are waiting again, and the
    next drain (or the sweep) takes them up. Stops after `budget_seconds` and
    queues its continuation, so one worker is not held for ever.
    """
    budget = budget_seconds or settings.OMS_INBOX_DRAIN_SECONDS
    started = time.monotonic()
    done = 0
    while True:
        count = _drain_batch(received_before)
        done += count
        if count < settings.OMS_INBOX_BATCH:
            return done
        if time.monotonic() - started > budget:
            if _queue_in_database():
                inbound_drain_task.enqueue()
            return done


@transaction.atomic
def _drain_batch(received_before: datetime | None) -> int:
    waiting = InboundMessage.objects.filter(status=Status.RECEIVED)
    if received_before is not None:
        waiting = waiting.filter(received_at__lt=received_before)
    messages = list(
        waiting.select_for_update(skip_locked=True, of=("self",))
        .select_related("channel")
        .order_by("pk")[: settings.OMS_INBOX_BATCH]
    )
    if not messages:
        return 0
    done: list[InboundMessage] = []
    later: list[InboundMessage] = []
    _batch.pending, _batch.products = {}, {}
    _batch.orders = _orders_of(messages)
    try:
        for message in messages:
            try:
                outcome = inbound_apply_locked(message=message)
            except _AfterBatch:
                later.append(message)
                continue
            if outcome.status != DEFERRED:
                done.append(message)
        pending = list(_batch.pending.values())
    finally:
        _batch.pending = _batch.products = _batch.orders = None
    if pending:
        done.extend(_create_batch(pending, later))
    _outcomes_save(done)
    for message in later:
        _process_one(message)
    fault_pause("inbox.batch")  # the fault suite kills the worker here
    return len(messages)


def _create_batch(
    pending: list[tuple[InboundMessage, NewOrder]], later: list[InboundMessage]
) -> list[InboundMessage]:
    """Take the batch's new orders in at once; if that fails (an order came by
    another path meanwhile, a value the database refuses), take each alone."""
    messages = [message for message, _ in pending]
    by_source: dict[str, list[NewOrder]] = {}
    for message, new in pending:
        by_source.setdefault(message.get_source_display(), []).append(new)
    try:
        with transaction.atomic():
            created = {}
            for source, news in by_source.items():
                for order in orders_create_many(orders=news, actor=None, source=source):
                    created[(order.channel_id, order.external_id)] = order
    except Exception:  # each alone, below, records its own error
        logger.info("Inbox batch of %d new orders taken one by one", len(pending))
        for message in messages:
            message.status, message.attempts = Status.RECEIVED, message.attempts - 1
        later[:0] = messages
        return []
    for message, new in pending:
        order = created[(new.channel.pk, new.external_id)]
        message.status, message.order = Status.PROCESSED, order
        message.external_id = message.external_id or order.external_id
    return messages


def _outcomes_save(messages: list[InboundMessage]) -> None:
    """Record what processing did on many messages: one UPDATE."""
    InboundMessage.objects.bulk_update(
        messages,
        ["status", "error", "order", "processed_at", "attempts", "external_id"],
    )


@task()
def inbound_drain_task() -> int:
    """Drain the inbox (queued by `inbound_wake` as webhooks arrive)."""
    return inbound_drain()


def _body(message: InboundMessage) -> Any:
    try:
        return json.loads(message.body)
    except ValueError as error:
        raise PayloadError(
            [FieldProblem("(body)", f"is not JSON ({error}).")]
        ) from error


def _apply(message: InboundMessage, prepared: "Prepared | None" = None) -> Outcome:
    if prepared is not None and message.topic == API_CREATE:
        return _create(message, prepared.parsed, prepared)
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
    known = getattr(_batch, "orders", None)
    if known is not None and known.get((channel.pk, external_id), "") is None:
        # Not in the system when the batch began (read for all at once); one
        # made since would be in this batch's pending creations.
        return None
    return Order.objects.filter(channel=channel, external_id=external_id).first()


def _orders_of(messages: list[InboundMessage]) -> dict[tuple[int, str], None]:
    """The orders the batch's messages name (by the external id read when each
    was stored) that are not in the system: one query for the batch."""
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
        return _update_shopify(message, order, body, api_body)
    return _create(message, payload_check(api_body))


def _update_shopify(
    message: InboundMessage, order: Order, body: dict, api_body: dict
) -> Outcome:
    """Apply an `orders/updated` in Shopify's `updated_at` order: an older
    update arriving after a newer one is ignored. Address and shipping
    changes go through `order_update` (staff rules); line changes are
    refused, on the timeline and the message."""
    stale = _stale_shopify_update(message, order, body)
    if stale:
        return Outcome(Status.IGNORED, order, error=stale)
    refused_lines = _shopify_line_changes(order, body)
    outcome = _update(message, order, api_body, "Shopify")
    if refused_lines:
        _note_once(outcome.order or order, refused_lines, message)
        outcome.error = " ".join(filter(None, [refused_lines, outcome.error]))
    return outcome


def _stale_shopify_update(message: InboundMessage, order: Order, body: dict) -> str:
    """Say why this update is older than one already applied, or ""."""
    updated_at = shopify.shopify_updated_at(body)
    if updated_at is None:
        return ""
    applied = (
        InboundMessage.objects.filter(
            order=order, source=Source.SHOPIFY, status=Status.PROCESSED
        )
        .exclude(pk=message.pk)
        .values_list("body", flat=True)
    )
    newest = None
    for earlier in applied:
        try:
            moment = shopify.shopify_updated_at(json.loads(earlier))
        except ValueError:
            continue
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    if newest is None or updated_at >= newest:
        return ""
    return (
        f"Not applied: this Shopify update (updated_at {updated_at.isoformat()}) "
        f"is older than one already applied (updated_at {newest.isoformat()}); "
        "it arrived late."
    )


def _shopify_line_changes(order: Order, body: dict) -> str:
    """Describe how Shopify's lines differ from the order's, or ""."""
    wanted = shopify.shopify_line_quantities(body)
    if not wanted:
        return ""
    held: dict[str, int] = {}
    for sku, quantity in order.lines.values_list("sku", "quantity"):
        held[sku] = held.get(sku, 0) + quantity
    if wanted == held:
        return ""
    changes = [
        f"{sku} {held.get(sku, 0)} → {wanted.get(sku, 0)}"
        for sku in sorted(set(wanted) | set(held))
        if held.get(sku, 0) != wanted.get(sku, 0)
    ]
    return (
        f"Shopify changed the lines of order {order.number} ({', '.join(changes)}); "
        "not applied: order lines are not edited here after intake. Cancel the "
        "order in Shopify and place it again, or change the shipment by hand."
    )


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


def _products(skus: set[str]) -> dict[str, Product]:
    """The products of these SKUs (read once per batch while draining)."""
    known = getattr(_batch, "products", None)
    if known is None:
        return {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    if missing := skus - known.keys():
        known.update({p.sku: p for p in Product.objects.filter(sku__in=missing)})
    return {sku: known[sku] for sku in skus if sku in known}


def _new_order(
    message: InboundMessage,
    parsed: ParsedOrder,
    products: dict[str, Product],
    number: str = "",
) -> NewOrder:
    values = parsed.values
    return NewOrder(
        channel=message.channel,
        external_id=parsed.external_id,
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
                product=products[line.sku],
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in parsed.lines
        ],
        placed_at=parsed.placed_at,
        currency=parsed.currency,
        shipping_amount=parsed.shipping_amount,
        tax_amount=parsed.tax_amount,
        shipping_method=values.get("shipping_method", ""),
        # As the CSV import does: taken, held until someone checks it (before
        # the intake rules run, so they see the hold).
        address_problem=parsed.address_problem,
        inbound_message_id=message.pk,
        number=number,
    )


@dataclass(frozen=True)
class Prepared:
    """An API order checked before the transaction that takes it in."""

    parsed: ParsedOrder
    products: dict[str, Product]
    number: str


def inbound_api_prepare(*, channel: Channel, body: Any) -> Prepared | None:
    """Check an API order before its transaction, and reserve its number then.

    Called outside a transaction, the number costs one statement and the
    order counter is not held while the order is written: API requests do
    not queue on it. Only an order that passes the validator, names known
    SKUs and is not here yet gets a number (a number is lost only when the
    same order is sent twice at the same moment). Return None otherwise: the
    transaction then finds out why, as for any message.
    """
    try:
        parsed = payload_check(body)
    except PayloadError:
        return None
    products = _products({line.sku for line in parsed.lines})
    if any(line.sku not in products for line in parsed.lines):
        return None
    if Order.objects.filter(channel=channel, external_id=parsed.external_id).exists():
        return None
    return Prepared(parsed, products, order_number_next())


def _create(
    message: InboundMessage, parsed: ParsedOrder, prepared: Prepared | None = None
) -> Outcome:
    channel = message.channel
    if prepared is None:
        existing = _find(channel, parsed.external_id)
        if existing is not None:
            return Outcome(Status.DUPLICATE, existing)
    # Else not here a moment ago: `orders_create_many` checks again, and the
    # unique constraint holds against one made meanwhile (answered below).
    skus = {line.sku for line in parsed.lines}
    products = prepared.products if prepared else _products(skus)
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
    new = _new_order(message, parsed, products, prepared.number if prepared else "")
    pending = getattr(_batch, "pending", None)
    if pending is not None:
        # Draining: taken in with the rest of the batch (`orders_create_many`).
        if (channel.pk, new.external_id) in pending:
            raise _AfterBatch  # a second message for an order of this batch
        pending[(channel.pk, new.external_id)] = (message, new)
        return Outcome(DEFERRED)
    # An API order is answered at once and allocated by the worker after
    # commit (`inbound_allocate`): the request locks no stock level.
    deferred = message.source == Source.API
    if prepared is not None:
        # Checked new a moment ago; if it was made meanwhile, the savepoint
        # `inbound_apply_locked` holds is undone and the message answered
        # as a duplicate (`_raced`): no savepoint of its own.
        try:
            order = order_create_one(
                order=new,
                actor=None,
                source=message.get_source_display(),
                allocate=not deferred,
                checked_new=True,
            )
        except (IntegrityError, OrderError) as error:
            raise _Raced(parsed.external_id) from error
        if deferred and order.status == OrderStatus.PENDING:
            transaction.on_commit(inbound_allocate_wake)
        return Outcome(Status.PROCESSED, order)
    try:
        with transaction.atomic():
            # One order through the set-based path: a fixed, small number of
            # statements (the API answers in-request).
            order = order_create_one(
                order=new,
                actor=None,
                source=message.get_source_display(),
                allocate=not deferred,
            )
    except (IntegrityError, OrderError):
        # The same order arrived by another message a moment ago.
        existing = _find(channel, parsed.external_id)
        if existing is None:
            raise
        return Outcome(Status.DUPLICATE, existing)
    if deferred and order.status == OrderStatus.PENDING:
        transaction.on_commit(inbound_allocate_wake)
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
        pending = getattr(_batch, "pending", None)
        if pending is not None and (message.channel_id, external_id) in pending:
            raise _AfterBatch  # cancelled in the batch that takes it in
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


# ---- reserving stock for the orders the API took in


def inbound_allocate_wake() -> None:
    """Have the worker reserve stock for the orders the API took in.

    With the database queue, as `inbound_wake`: one task per process every
    `OMS_INBOX_WAKE_SECONDS`, which allocates every such order waiting when
    it starts; with the immediate backend, at once.
    """
    if not _queue_in_database():
        inbound_allocate_task.enqueue()
        return
    _wake_once(inbound_allocate_task)


@task()
def inbound_allocate_task() -> dict[str, int]:
    """Allocate the API's pending orders (queued by `inbound_allocate_wake`)."""
    return inbound_allocate()


def inbound_allocate(*, placed_before: datetime | None = None) -> dict[str, int]:
    """Reserve stock for the orders the API took in that are still pending,
    oldest first, set-based in batches of `OMS_INBOX_BATCH` (one transaction
    each: `orders_allocate_many` locks the orders, then their stock levels
    once). An order held or cancelled meanwhile is left alone; several
    workers may run this side by side (each order is allocated once, under
    its lock). Return how many orders ended in each status."""
    waiting = Order.objects.filter(
        status=OrderStatus.PENDING, inbound_messages__source=Source.API
    )
    if placed_before is not None:
        waiting = waiting.filter(created_at__lt=placed_before)
    counts: dict[str, int] = {}
    last = 0
    while True:
        order_ids = list(
            waiting.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)
            .distinct()[: settings.OMS_INBOX_BATCH]
        )
        if not order_ids:
            return counts
        last = order_ids[-1]
        done = orders_allocate_many(
            order_ids=order_ids, actor=None, statuses=(OrderStatus.PENDING,)
        )
        for status, count in done.items():
            counts[status] = counts.get(status, 0) + count


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
    """Process the messages still waiting long after they came (the drain that
    should have taken them was lost), each applied once under its lock, and
    allocate the API's orders still pending as long (their task was lost)."""
    before = timezone.now() - timedelta(seconds=settings.OMS_INBOX_SWEEP_AFTER_SECONDS)
    done = inbound_drain(received_before=before)
    inbound_allocate(placed_before=before)
    return done
