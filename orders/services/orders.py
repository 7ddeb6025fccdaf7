"""Orders into the system's hands: customers, numbers, creating an order with
its lines (one, or many at once). The changes a person makes before an order
is packed are `orders.services.order_edits` (`order_update`).

Each service reads top to bottom: lock, check, act, record, notify after
commit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.history import history_context
from core.hooks import ORDER_EVENT, hook_emit
from core.sequences import format_number, sequence_reserve
from core.users import Actor
from inventory.models import Product
from orders import events
from orders.addresses import Address
from orders.emails import customer_email_queue, customer_emails_queue_many
from orders.exceptions import OrderError
from orders.models import (
    Channel,
    Customer,
    CustomerEmail,
    HoldReason,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Rule,
)
from orders.rules.services import rules_apply, rules_exist
from orders.services.allocation import orders_allocate_locked
from orders.services.shipby import ship_by_for, ship_by_many

ORDER_NUMBER_PREFIX = "SO"
# The counter order numbers are drawn from (`core.sequences`).
ORDER_SEQUENCE = "order"


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
    return format_number(ORDER_NUMBER_PREFIX, sequence_reserve(name=ORDER_SEQUENCE)[0])


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
    inbound_message_id: int | None = None,
    address_problem: str = "",
) -> Order:
    """Record a new order with its lines and reserve stock for it.

    `inbound_message_id` names the API call or shop webhook it came from; the
    timeline links to it. An `address_problem` (the country's address check
    failed) takes the order in on hold for an address check, as the CSV
    import does. The intake rules run before allocation, so their holds and
    location pins count.
    """
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
    placed_at = placed_at or timezone.now()
    order = Order.objects.create(
        number=order_number_next(),
        channel=channel,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at,
        ship_by=ship_by_for(
            channel=channel, placed_at=placed_at, country=address.country
        ),
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
    OrderLine.objects.bulk_create(_line_rows(order, lines))
    events.order_event_placed(
        order=order, actor=actor, source=source, inbound_message_id=inbound_message_id
    )
    if address_problem:
        order.hold(HoldReason.ADDRESS_CHECK)
        order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
        events.order_event_held(order=order, actor=actor, note=address_problem)
    if rules_apply(
        order_ids=[order.pk], trigger=Rule.Trigger.INTAKE, actor=actor
    ).changed:
        order.refresh_from_db()
    if allocate and order.status == OrderStatus.PENDING:
        # The new row is this transaction's own: no lock to take again.
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
    customer_email_queue(order=order, kind=CustomerEmail.Kind.RECEIVED)
    hook_emit(ORDER_EVENT, event="order.created", order_ids=[order.pk], reason="")
    return order


@dataclass(frozen=True)
class NewOrder:
    """One order for `orders_create_many`: what `order_create` takes, with
    the customer by e-mail (found or created in bulk)."""

    channel: Channel
    external_id: str
    email: str
    customer_name: str
    customer_phone: str
    address: Address
    lines: Sequence[LineInput]
    placed_at: datetime | None = None
    currency: str = "USD"
    shipping_amount: Decimal = Decimal("0")
    tax_amount: Decimal = Decimal("0")
    shipping_method: str = ""
    address_problem: str = ""
    inbound_message_id: int | None = None
    # Reserved beforehand (`order_number_next` outside the transaction, so
    # the counter is not held while the order is written); "" reserves one.
    number: str = ""


def order_draft(
    *,
    order: NewOrder,
    number: str,
    placed_at: datetime,
    now: datetime,
    ship_by: date | None = None,
    customer_id: int | None = None,
) -> Order:
    """The order row `orders_create_many` writes for a new order (unsaved):
    the order API answers with it before the worker writes it."""
    new = order
    subtotal = sum(
        (line.unit_price * line.quantity for line in new.lines), Decimal("0")
    )
    row = Order(
        number=number,
        channel=new.channel,
        external_id=new.external_id,
        customer_id=customer_id,
        placed_at=placed_at,
        ship_by=ship_by,
        currency=new.currency,
        subtotal=subtotal,
        shipping_amount=new.shipping_amount,
        tax_amount=new.tax_amount,
        total=subtotal + new.shipping_amount + new.tax_amount,
        shipping_method=new.shipping_method,
        created_at=now,
        updated_at=now,
        **new.address.as_order_fields(),
    )
    if new.address_problem:
        row.hold(HoldReason.ADDRESS_CHECK)
    return row


def order_draft_lines(*, order: Order, new: NewOrder) -> list[OrderLine]:
    """The line rows of `order_draft`'s order (unsaved)."""
    return _line_rows(order, new.lines)


def _line_rows(order: Order, lines: Sequence[LineInput]) -> list[OrderLine]:
    """Unsaved line rows of `order`, each with its product's SKU and name."""
    return [
        OrderLine(
            order=order,
            product=line.product,
            sku=line.product.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    ]


def customers_get_or_create(
    *, wanted: Sequence[tuple[str, str, str]]
) -> dict[str, int]:
    """Find or create customers by e-mail (any letter case) in bulk; `wanted`
    holds (email, name, phone). Return their ids by lower-case e-mail."""
    firsts: dict[str, tuple[str, str]] = {}
    for email, name, phone in wanted:
        firsts.setdefault(email.strip().lower(), (name, phone))
    found = dict(
        Customer.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(firsts))
        .values_list("email_lower", "pk")
    )
    missing = [email for email in firsts if email not in found]
    if missing:
        # Another process may add the same customer meanwhile: theirs is kept.
        Customer.objects.bulk_create(
            [
                Customer(email=email, name=firsts[email][0], phone=firsts[email][1])
                for email in missing
            ],
            ignore_conflicts=True,
        )
        found.update(
            Customer.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=missing)
            .values_list("email_lower", "pk")
        )
    return found


@transaction.atomic(savepoint=False)
def orders_create_many(
    *,
    orders: Sequence[NewOrder],
    actor: Actor,
    source: str,
    allocate: bool = True,
) -> list[Order]:
    """Take many orders in at once, as `order_create` takes one.

    The same checks, statuses, timeline, intake rules, allocation, e-mails
    and channel events, written set-based: a batch of the inbox costs a few
    statements, not a few dozen per order (one order, as the API sends it,
    the same few). Raises OrderError when an order has no lines or a bad
    quantity, or is already in the system. No savepoint of its own (two
    round trips per call): a caller that goes on after an error wraps the
    call in `transaction.atomic()`, as the inbox does, and nothing is written.

    Without `allocate` the orders stay pending and no stock level is locked:
    the caller has them allocated after commit (the order API answers at
    once and the worker reserves in batches, `inbound_allocate`).
    """
    if not orders:
        return []
    for new in orders:
        if not new.lines:
            raise OrderError(
                f"Order {new.external_id} from {new.channel.name} has no lines."
            )
        for line in new.lines:
            if not isinstance(line.quantity, int) or line.quantity <= 0:
                raise OrderError(
                    f"Order {new.external_id}: the quantity of {line.product.sku} "
                    "must be a whole number above zero."
                )
    keys = {(new.channel.pk, new.external_id) for new in orders}
    if len(keys) < len(orders):
        raise OrderError("The same order appears twice in one batch.")
    taken = Order.objects.filter(
        external_id__in=[external_id for _, external_id in keys],
        channel_id__in={channel_id for channel_id, _ in keys},
    ).values_list("channel_id", "external_id")
    if already := [key for key in taken if key in keys]:
        raise OrderError(
            f"Order {already[0][1]} is already in the system; it was not created twice."
        )
    customers = customers_get_or_create(
        wanted=[(n.email, n.customer_name, n.customer_phone) for n in orders]
    )
    now = timezone.now()
    placed = [new.placed_at or now for new in orders]
    ship_by = ship_by_many(
        orders=[
            (new.channel.pk, when, new.address.country)
            for new, when in zip(orders, placed, strict=True)
        ],
        # The callers' channels are read already: their cut-off and handling
        # days need no query.
        handling={
            new.channel.pk: (new.channel.cutoff_time, new.channel.handling_days)
            for new in orders
        },
    )
    unnumbered = sum(1 for new in orders if not new.number)
    numbers = iter(
        sequence_reserve(name=ORDER_SEQUENCE, count=unnumbered) if unnumbered else ()
    )
    rows = [
        order_draft(
            order=new,
            number=new.number or format_number(ORDER_NUMBER_PREFIX, next(numbers)),
            placed_at=when,
            now=now,
            ship_by=due,
            customer_id=customers[new.email.strip().lower()],
        )
        for new, when, due in zip(orders, placed, ship_by, strict=True)
    ]
    with history_context(actor=actor, reason=source):
        created = Order.objects.bulk_create(rows)
        written = OrderLine.objects.bulk_create(
            line
            for order, new in zip(created, orders, strict=True)
            for line in order_draft_lines(order=order, new=new)
        )
    _lines_cache(created, written)
    timeline = []
    for order, new in zip(created, orders, strict=True):
        timeline.append(
            events.order_event_placed(
                order=order,
                actor=actor,
                source=source,
                inbound_message_id=new.inbound_message_id,
                save=False,
            )
        )
        if new.address_problem:
            timeline.append(
                events.order_event_held(
                    order=order, actor=actor, note=new.address_problem, save=False
                )
            )
    OrderEvent.objects.bulk_create(timeline)
    order_ids = [order.pk for order in created]
    # Without an intake rule (cached per process) no query and no savepoint.
    changed = (
        rules_apply(
            order_ids=order_ids, trigger=Rule.Trigger.INTAKE, actor=actor
        ).changed
        if rules_exist(trigger=Rule.Trigger.INTAKE)
        else set()
    )
    # Orders a rule changed are read again; the others are as written.
    reread = (
        {
            order.pk: order
            for order in Order.objects.select_related("channel").filter(pk__in=changed)
        }
        if changed
        else {}
    )
    pending = [
        order
        for order in (reread.get(order.pk, order) for order in created)
        if order.status == OrderStatus.PENDING
    ]
    if pending and allocate:
        # The new rows are this transaction's own: no lock to take again.
        orders_allocate_locked(orders=pending, actor=actor)
    customer_emails_queue_many(order_ids=order_ids, kind=CustomerEmail.Kind.RECEIVED)
    hook_emit(ORDER_EVENT, event="order.created", order_ids=order_ids, reason="")
    if not allocate:
        # Nothing changed them since they were written or read again.
        return [reread.get(order.pk, order) for order in created]
    by_id = Order.objects.select_related("channel").in_bulk(order_ids)
    return [by_id[pk] for pk in order_ids]


def _lines_cache(orders: Sequence[Order], lines: Sequence[OrderLine]) -> None:
    """Set each new order's `lines` to the rows just written, as
    `prefetch_related` would: `order.lines.all()` then costs no query (the
    order API's answer, the outbox's payload)."""
    if any(row.pk is None for row in [*orders, *lines]):
        return  # a backend that returns no primary keys: read them when asked
    by_order: dict[int, list[OrderLine]] = {order.pk: [] for order in orders}
    for line in lines:
        by_order[line.order_id].append(line)
    cache_name = OrderLine._meta.get_field("order").remote_field.cache_name
    for order in orders:
        related = order.lines.get_queryset()
        related._result_cache = sorted(by_order[order.pk], key=lambda line: line.pk)
        related._prefetch_done = True
        order._prefetched_objects_cache = {cache_name: related}


def order_create_one(
    *,
    order: NewOrder,
    actor: Actor,
    source: str,
    allocate: bool = True,
) -> Order:
    """Take one order in (an API call, a webhook processed alone) through
    `orders_create_many`'s set-based path: a fixed few statements whatever
    its lines, where `order_create` costs a few dozen. Same checks, errors
    and effects as `orders_create_many`."""
    return orders_create_many(
        orders=[order],
        actor=actor,
        source=source,
        allocate=allocate,
    )[0]
