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

An order sent to the API is checked in its request (`inbound_api_check`) and
stored with its answer, waiting like a webhook (`inbound_api_take`); the
drain writes it with the number and time it was answered with.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.utils import timezone
from django_tasks import task

from core.exceptions import DomainError
from core.faults import fault_pause
from core.models import Sequence
from core.sequences import format_number
from core.users import Actor
from inventory.models import Product
from orders import events
from orders.addresses import Address
from orders.exceptions import OrderError, OrderStateError
from orders.importing.validate import ParsedOrder
from orders.intake import shopify, woocommerce
from orders.intake.payload import (
    FieldProblem,
    PayloadError,
    external_id_of,
    payload_check,
)
from orders.models import Channel, InboundMessage, Order, OrderStatus
from orders.services.allocation import orders_allocate_many
from orders.services.lifecycle import order_cancel
from orders.services.orders import (
    ORDER_NUMBER_PREFIX,
    ORDER_SEQUENCE,
    LineInput,
    NewOrder,
    order_create_one,
    order_draft,
    order_draft_lines,
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
    stored, new = _insert_or_earlier(message)
    if new and process:
        _process_soon(stored)
    return stored, new


def _insert_or_earlier(message: InboundMessage) -> tuple[InboundMessage, bool]:
    """Store `message` (True), or give the earlier one holding its delivery
    id or key (False)."""
    for _ in range(3):
        message.pk = _insert_unless_seen(message)
        if message.pk is not None:
            return message, True
        earlier = _earlier(message)
        if earlier is not None:
            return earlier, False
        # The earlier message was rolled back meanwhile: store this one.
    raise IntegrityError(f"Inbound message {message.delivery_id!r} not stored.")


def _process_soon(message: InboundMessage) -> None:
    """The worker's drain takes a stored message up (the immediate backend:
    processed here and now)."""
    if _queue_in_database():
        inbound_wake()
    else:
        inbound_process_task.enqueue(message.pk)


# The INSERT statement per database alias (its text never changes).
_insert_sql: dict[str, str] = {}


def _insert_unless_seen(message: InboundMessage) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new id, or None when a
    unique constraint (delivery id, idempotency key) already holds the row."""
    meta = InboundMessage._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for f in fields:
        f.pre_save(message, add=True)
    connection = connections[router.db_for_write(InboundMessage)]
    sql = _insert_sql.get(connection.alias)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _insert_sql[connection.alias] = (
            f"INSERT INTO {quote(meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
    params = [
        f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields
    ]
    # A repeated statement changes nothing when the message has a delivery id
    # or an idempotency key (the unique constraints hold the first one).
    repeatable = bool(message.delivery_id or message.idempotency_key)
    row = _fetch_one(connection, sql, params, repeatable=repeatable)
    if row is None:
        return None
    message._state.adding = False
    message._state.db = connection.alias
    return row[0]


def _fetch_one(connection, sql: str, params: list, *, repeatable: bool):
    """Run one statement and return its first row.

    Outside a transaction, a `repeatable` statement stands in for Django's
    health check of a kept connection (a `SELECT 1` round trip before a
    request's first statement, half of a webhook's acknowledgement): should
    the statement find the connection broken (the database restarted, an idle
    connection cut), the connection is replaced and the statement run again.
    """
    trusted = (
        repeatable
        and connection.health_check_enabled
        and not connection.health_check_done
        and connection.connection is not None
        and not connection.in_atomic_block
    )
    if trusted:
        connection.health_check_done = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        if not trusted or connection.is_usable():
            raise
        connection.close()  # the next cursor connects anew
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _earlier(message: InboundMessage) -> InboundMessage | None:
    """The stored message that holds this one's Idempotency-Key or delivery
    id (an API order's is its external id), or None."""
    found = InboundMessage.objects.filter(channel=message.channel)
    if message.idempotency_key:
        earlier = found.filter(idempotency_key=message.idempotency_key).first()
        if earlier is not None:
            return earlier
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


def inbound_apply_locked(*, message: InboundMessage) -> Outcome:
    """Apply a message the caller holds locked (or has just inserted, in its
    own transaction) and record the outcome on it."""
    if message.status != Status.RECEIVED:
        # Done before (a task queued twice, or a replay that raced).
        return Outcome(message.status, message.order, message.error)
    message.attempts += 1
    # Draining, an order the API took in is only read until the batch writes
    # it: applied without a savepoint of its own (two round trips a message).
    # A database error there fails the batch, whose messages wait again.
    guarded = not _drained_api_create(message)
    try:
        if guarded:
            with transaction.atomic():
                outcome = _apply(message)
        else:
            outcome = _apply(message)
    except _AfterBatch:
        message.attempts -= 1
        raise
    except PayloadError as error:
        outcome = Outcome(Status.FAILED, error=str(error), problems=error.problems)
    except DomainError as error:
        outcome = Outcome(Status.FAILED, error=str(error))
    except Exception as error:  # recorded on the message, for a Replay
        if not guarded and isinstance(error, DatabaseError):
            raise
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


def _drained_api_create(message: InboundMessage) -> bool:
    """Whether the message is an order the API took in (`inbound_api_take`),
    met while draining: applying it reads, and the batch writes it."""
    return (
        getattr(_batch, "pending", None) is not None
        and message.source == Source.API
        and message.topic == API_CREATE
        and message.delivery_id.startswith(API_ORDER_DELIVERY)
    )


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
    """Record what processing did on many messages: one UPDATE (on PostgreSQL
    from arrays, a constant statement cheap to build: `bulk_update`'s CASE
    per row and field cost more CPU than the batch's orders)."""
    if not messages:
        return
    connection = connections[router.db_for_write(InboundMessage)]
    if connection.vendor != "postgresql":
        InboundMessage.objects.bulk_update(
            messages,
            ["status", "error", "order", "processed_at", "attempts", "external_id"],
        )
        return
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = v.status, error = v.error, "
            "order_id = v.order_id, processed_at = v.processed_at, "
            "attempts = v.attempts, external_id = v.external_id "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], "
            "%s::timestamptz[], %s::integer[], %s::text[]) "
            "AS v(id, status, error, order_id, processed_at, attempts, external_id) "
            "WHERE m.id = v.id",
            [
                [m.pk for m in messages],
                [m.status for m in messages],
                [m.error for m in messages],
                [m.order_id for m in messages],
                [m.processed_at for m in messages],
                [m.attempts for m in messages],
                [m.external_id for m in messages],
            ],
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


# ---- the order API: taken in at once, written by the worker in batches

# The delivery id of an order API message that was taken in: a second one for
# the same order (channel, external id) is refused by the unique constraint.
API_ORDER_DELIVERY = "order:"

# Products by SKU, kept per process for `OMS_INTAKE_CHANNEL_CACHE_SECONDS`
# (as channels and keys are): the API checks its SKUs without a query.
_api_products: dict[str, tuple[float, Product]] = {}
_api_products_lock = threading.Lock()


def api_delivery_id(external_id: str) -> str:
    return _clean_text(f"{API_ORDER_DELIVERY}{external_id}")[:128]


def _products_kept(skus: set[str]) -> dict[str, Product]:
    """The products of these SKUs, read once per few seconds per process (an
    unknown SKU is read again every time: a product added is known at once)."""
    keep = settings.OMS_INTAKE_CHANNEL_CACHE_SECONDS
    if keep <= 0:
        return _products(skus)
    now = time.monotonic()
    found: dict[str, Product] = {}
    for sku in skus:
        cached = _api_products.get(sku)
        if cached is not None and cached[0] > now:
            found[sku] = cached[1]
    if missing := skus - found.keys():
        read = _products(missing)
        with _api_products_lock:
            if len(_api_products) > 50_000:
                _api_products.clear()
            for sku, product in read.items():
                _api_products[sku] = (now + keep, product)
        found.update(read)
    return found


@dataclass(frozen=True)
class ApiCheck:
    """An API order checked (`inbound_api_check`): its problems, the order of
    the channel with its external id if there is one, or the `earlier`
    message that took it in, else the order as it will be written (`draft`,
    unsaved, with its `lines`)."""

    problems: list[FieldProblem]
    existing: Order | None = None
    earlier: InboundMessage | None = None
    draft: Order | None = None
    lines: list = field(default_factory=list)
    external_id: str = ""


def inbound_api_check(*, channel: Channel, body: Any) -> ApiCheck:
    """Check an order sent to the API as the worker will take it in: the
    shared validator, its SKUs (kept per process), and whether the channel
    has the order already. A new order gets its number (outside any
    transaction: requests do not queue on the counter) and is drafted as
    `orders_create_many` will write it. One statement on PostgreSQL, two on
    SQLite; nothing else is written."""
    try:
        parsed = payload_check(body)
    except PayloadError as error:
        return ApiCheck(error.problems, external_id=external_id_of(body))
    products = _products_kept({line.sku for line in parsed.lines})
    unknown = _unknown_skus(parsed, products)
    if unknown:
        return ApiCheck(unknown, external_id=parsed.external_id)
    # The channel's order, or an earlier message that took it in and waits
    # for the worker, and the number of a new order: one statement.
    order_id, message_id, number = _order_or_number(channel, parsed.external_id)
    if order_id is not None:
        existing = Order.objects.get(pk=order_id)
        return ApiCheck([], existing=existing, external_id=parsed.external_id)
    if message_id is not None:
        earlier = InboundMessage.objects.get(pk=message_id)
        return ApiCheck([], earlier=earlier, external_id=parsed.external_id)
    now = timezone.now()
    new = _new_order(_ApiSource(channel), parsed, products, number)
    draft = order_draft(
        order=new, number=new.number, placed_at=parsed.placed_at or now, now=now
    )
    return ApiCheck(
        [],
        draft=draft,
        lines=order_draft_lines(order=draft, new=new),
        external_id=parsed.external_id,
    )


def _order_or_number(channel: Channel, external_id: str) -> tuple[Any, Any, str]:
    """The id of the channel's order with this external id, and of the API
    message that took it in; when neither is here, a new order number ("" if
    one is). On PostgreSQL one statement: the look-ups, and the counter's
    upsert (`sequence_reserve`'s) only when they found nothing."""
    connection = connections[router.db_for_write(Order)]
    quote = connection.ops.quote_name
    orders, messages = Order._meta.db_table, InboundMessage._meta.db_table
    found = (
        f"SELECT (SELECT {quote('id')} FROM {quote(orders)} "
        f"WHERE {quote('channel_id')} = %s AND {quote('external_id')} = %s) "
        "AS order_id, "
        f"(SELECT {quote('id')} FROM {quote(messages)} "
        f"WHERE {quote('channel_id')} = %s AND {quote('source')} = %s "
        f"AND {quote('delivery_id')} = %s) AS message_id"
    )
    params = [
        channel.pk,
        external_id,
        channel.pk,
        Source.API.value,
        api_delivery_id(external_id),
    ]
    if connection.vendor != "postgresql":
        # A read: it stands in for the connection's health check.
        order_id, message_id = _fetch_one(connection, found, params, repeatable=True)
        if order_id is not None or message_id is not None:
            return order_id, message_id, ""
        return None, None, order_number_next()
    counter = quote(Sequence._meta.db_table)
    sql = (
        f"WITH found AS ({found}), "
        f"reserved AS (INSERT INTO {counter} (name, last_value) "
        "SELECT %s, 1 FROM found "
        "WHERE found.order_id IS NULL AND found.message_id IS NULL "
        "ON CONFLICT (name) DO UPDATE "
        f"SET last_value = {counter}.last_value + excluded.last_value "
        "RETURNING last_value) "
        "SELECT found.order_id, found.message_id, "
        "(SELECT last_value FROM reserved) FROM found"
    )
    # Run again on a connection found broken, it reserves at most one number
    # more: it stands in for the connection's health check (`_fetch_one`).
    order_id, message_id, last = _fetch_one(
        connection, sql, [*params, ORDER_SEQUENCE], repeatable=True
    )
    if last is None:
        return order_id, message_id, ""
    return None, None, format_number(ORDER_NUMBER_PREFIX, last)


@dataclass
class _ApiSource:
    """Stands for the message `_new_order` reads (not stored yet)."""

    channel: Channel
    pk: int | None = None


def inbound_api_take(
    *,
    channel: Channel,
    body: bytes,
    check: ApiCheck,
    response_status: int,
    response: dict,
    idempotency_key: str = "",
    body_hash: str = "",
) -> tuple[InboundMessage, bool]:
    """Store an API order message with its answer (one INSERT, no transaction);
    return it and whether it is new.

    A new order (`check.draft`) is stored waiting (received), named by its
    external id: the worker writes it in a batch with the others waiting
    (`inbound_drain`), with the number and time of the answer. A second
    message for the same order, or the same Idempotency-Key, stores nothing:
    the earlier message comes back. A refused or repeated order is stored
    done (failed, duplicate), with its answer, for the Idempotency-Key."""
    waiting = check.draft is not None
    if waiting:
        status, error, order_id = Status.RECEIVED, "", None
    elif check.existing is not None:
        status, error, order_id = Status.DUPLICATE, "", check.existing.pk
    elif check.earlier is not None:
        status, error, order_id = Status.DUPLICATE, "", check.earlier.order_id
    else:
        status, order_id = Status.FAILED, None
        error = "; ".join(str(problem) for problem in check.problems)[:2000]
    now = timezone.now()
    key = _clean_text(idempotency_key)[:255]
    message = InboundMessage(
        channel=channel,
        source=Source.API,
        topic=API_CREATE,
        delivery_id=api_delivery_id(check.external_id) if waiting else "",
        idempotency_key=key,
        body_hash=body_hash,
        external_id=_clean_text(check.external_id)[:64],
        received_at=check.draft.created_at if waiting else now,
        status=status,
        error=error,
        attempts=0 if waiting else 1,
        body=_clean_text(body.decode("utf-8", "replace")),
        headers={"Idempotency-Key": key} if key else {},
        response_status=response_status,
        response=response,
        processed_at=None if waiting else now,
        order_id=order_id,
    )
    stored, new = _insert_or_earlier(message)
    if new and waiting:
        _process_soon(stored)
    return stored, new


def inbound_api_waiting(*, channel: Channel, external_id: str) -> InboundMessage | None:
    """The API message of an order taken in and not written yet, or None."""
    return (
        InboundMessage.objects.filter(
            channel=channel,
            source=Source.API,
            delivery_id=api_delivery_id(external_id),
            status=Status.RECEIVED,
        )
        .only("pk", "response", "response_status", "status")
        .first()
    )


def _api_taken(message: InboundMessage) -> tuple[str, datetime | None]:
    """The number and time an API order was answered with when it was taken
    in (`inbound_api_take`), or ("", None) for an older message."""
    if (
        message.source == Source.API
        and message.delivery_id.startswith(API_ORDER_DELIVERY)
        and isinstance(message.response, dict)
        and isinstance(message.response.get("number"), str)
    ):
        return message.response["number"], message.received_at
    return "", None


def _unknown_skus(parsed: ParsedOrder, products: dict[str, Product]) -> list:
    return [
        FieldProblem(
            f"lines[{line.row}].sku",
            f"unknown SKU {line.sku!r}: add the product or correct the SKU.",
        )
        for line in parsed.lines
        if line.sku not in products
    ]


def _create(message: InboundMessage, parsed: ParsedOrder) -> Outcome:
    channel = message.channel
    existing = _find(channel, parsed.external_id)
    if existing is not None:
        return Outcome(Status.DUPLICATE, existing)
    products = _products({line.sku for line in parsed.lines})
    unknown = _unknown_skus(parsed, products)
    if unknown:
        raise PayloadError(unknown)
    # An API order is written with the number and time it was answered with.
    number, taken_at = _api_taken(message)
    new = _new_order(message, parsed, products, number)
    if taken_at is not None and parsed.placed_at is None:
        new = replace(new, placed_at=taken_at)
    pending = getattr(_batch, "pending", None)
    if pending is not None:
        # Draining: taken in with the rest of the batch (`orders_create_many`).
        if (channel.pk, new.external_id) in pending:
            raise _AfterBatch  # a second message for an order of this batch
        pending[(channel.pk, new.external_id)] = (message, new)
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
