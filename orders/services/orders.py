"""Orders into the system's hands: customers, numbers, creating an order with
its lines (one, or many at once). The changes a person makes before an order
is packed are `orders.services.order_edits` (`order_update`).

Each service reads top to bottom: lock, check, act, record, notify after
commit.
"""

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.history import history_context
from core.hooks import ORDER_EVENT, hook_emit
from core.sequences import format_number, sequence_reserve
from core.users import Actor
from orders import events
from orders.addresses import Address
from orders.bounds import order_dates_problems
from orders.emails import customer_email_queue, customer_emails_queue_many
from orders.exceptions import OrderError
from orders.intake import intake_hold
from orders.models import (
    Channel,
    Customer,
    EmailKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Rule,
)
from orders.rules.services import rules_apply, rules_exist
from orders.services.allocation import orders_allocate_locked
from orders.services.drafts import (  # noqa: F401 (where callers import them)
    LineInput,
    NewOrder,
    OrderMoney,
    OrderNotes,
    customer_key,
    line_rows,
    order_draft,
    order_draft_lines,
)
from orders.services.shipby import ship_by_for, ship_by_many

ORDER_NUMBER_PREFIX = "SO"
# The counter order numbers are drawn from (`core.sequences`).
ORDER_SEQUENCE = "order"


def customer_get_or_create(*, email: str, name: str = "", phone: str = "") -> Customer:
    """Find a customer by e-mail (any letter case), or by phone when they gave
    no e-mail, or create one."""
    email, phone = email.strip(), phone.strip()
    if not email and not phone:
        raise OrderError("A customer needs an e-mail address or a phone number.")
    found = (
        Customer.objects.with_email_lower().filter(email_lower=email.lower())
        if email
        else Customer.objects.filter(email="", phone=phone)
    )
    customer = found.first()
    if customer:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email.lower(), name=name, phone=phone)
    except IntegrityError:
        # Someone created the same customer a moment ago.
        return found.get()


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
    money: OrderMoney | None = None,
    notes: OrderNotes | None = None,
) -> Order:
    """Record a new order with its lines and reserve stock for it.

    `inbound_message_id` names the API call or shop webhook it came from; the
    timeline links to it. An `address_problem` (the country's address check
    failed) takes the order in on hold for an address check, as the CSV
    import does; so does a total that differs from the one the shop stated
    (`money.stated_total`) and a payment state the channel does not take in
    (`notes.financial_status`): see `orders.intake`. `money` carries the
    discounts and the tax flag (its shipping and tax win over the plain
    arguments). The intake rules run before allocation, so their holds and
    location pins count.
    """
    money = money or OrderMoney(shipping_amount=shipping_amount, tax_amount=tax_amount)
    notes = notes or OrderNotes()
    if not lines:
        raise OrderError(f"Order {external_id} from {channel.name} has no lines.")
    lines_check(external_id=external_id, channel=channel, lines=lines)
    if Order.objects.filter(channel=channel, external_id=external_id).exists():
        raise OrderError(
            f"{channel.name} order {external_id} is already in the system; "
            "it was not created twice."
        )
    placed_at = placed_at or timezone.now()
    dates = {
        "placed_at": placed_at,
        "requested_delivery_date": requested_delivery_date,
    }
    for name, problem in order_dates_problems(dates).items():
        label = Order._meta.get_field(name).verbose_name
        raise OrderError(f"{channel.name} order {external_id}, {label}: {problem}")
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
        shipping_method=shipping_method,
        priority=priority,
        requested_delivery_date=requested_delivery_date,
        **money.order_fields(lines),
        **notes.order_fields(),
        **address.as_order_fields(),
    )
    OrderLine.objects.bulk_create(line_rows(order, lines))
    events.order_event_placed(
        order=order, actor=actor, source=source, inbound_message_id=inbound_message_id
    )
    hold = intake_hold(
        channel=channel,
        address_problem=address_problem,
        computed_total=order.total,
        stated_total=money.stated_total,
        financial_status=notes.financial_status,
        currency=currency,
    )
    if hold is not None:
        order.hold(hold.reason)
        order.save(update_fields=["status", "hold_reason", "held_from", "updated_at"])
        events.order_event_held(
            order=order, actor=actor, note=hold.note, data=hold.data
        )
    if rules_apply(
        order_ids=[order.pk], trigger=Rule.Trigger.INTAKE, actor=actor
    ).changed:
        order.refresh_from_db()
    if allocate and order.status == OrderStatus.PENDING:
        # The new row is this transaction's own: no lock to take again.
        order = orders_allocate_locked(orders=[order], actor=actor)[0]
    customer_email_queue(order=order, kind=EmailKind.RECEIVED)
    hook_emit(ORDER_EVENT, event="order.created", order_ids=[order.pk], reason="")
    return order


def customers_get_or_create(
    *, wanted: Sequence[tuple[str, str, str]]
) -> dict[str, int]:
    """Find or create customers by e-mail (any letter case), or by phone for
    those without one, in bulk; `wanted` holds (email, name, phone). Return
    their ids by `customer_key`."""
    firsts: dict[str, tuple[str, str, str]] = {}
    for email, name, phone in wanted:
        key = customer_key(email=email, phone=phone)
        firsts.setdefault(key, (email.strip().lower(), name, phone.strip()))

    def read(keys: list[str]) -> dict[str, int]:
        emails = [firsts[key][0] for key in keys if firsts[key][0]]
        phones = [firsts[key][2] for key in keys if not firsts[key][0]]
        found = {}
        if emails:
            found.update(
                Customer.objects.with_email_lower()
                .filter(email_lower__in=emails)
                .values_list("email_lower", "pk")
            )
        if phones:
            found.update(
                (f"phone:{phone}", pk)
                for phone, pk in Customer.objects.filter(
                    email="", phone__in=phones
                ).values_list("phone", "pk")
            )
        return found

    found = read(list(firsts))
    missing = [key for key in firsts if key not in found]
    if missing:
        # Another process may add the same customer meanwhile: theirs is kept.
        Customer.objects.bulk_create(
            [
                Customer(
                    email=firsts[key][0], name=firsts[key][1], phone=firsts[key][2]
                )
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found.update(read(missing))
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
        lines_check(external_id=new.external_id, channel=new.channel, lines=new.lines)
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
    holds = [new.hold() for new in orders]
    rows = [
        order_draft(
            order=new,
            number=new.number or format_number(ORDER_NUMBER_PREFIX, next(numbers)),
            placed_at=when,
            now=now,
            ship_by=due,
            customer_id=customers[new.customer_key],
            hold=hold,
        )
        for new, when, due, hold in zip(orders, placed, ship_by, holds, strict=True)
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
    for order, new, hold in zip(created, orders, holds, strict=True):
        timeline.append(
            events.order_event_placed(
                order=order,
                actor=actor,
                source=source,
                inbound_message_id=new.inbound_message_id,
                save=False,
            )
        )
        if hold is not None:
            timeline.append(
                events.order_event_held(
                    order=order, actor=actor, note=hold.note, data=hold.data, save=False
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
    customer_emails_queue_many(order_ids=order_ids, kind=EmailKind.RECEIVED)
    hook_emit(ORDER_EVENT, event="order.created", order_ids=order_ids, reason="")
    if not allocate:
        # Nothing changed them since they were written or read again.
        return [reread.get(order.pk, order) for order in created]
    by_id = Order.objects.select_related("channel").in_bulk(order_ids)
    return [by_id[pk] for pk in order_ids]


def lines_check(
    *, external_id: str, channel: Channel, lines: Sequence[LineInput]
) -> None:
    """Refuse an order without lines, with a quantity that is no whole number
    above zero, or with a line that ships but names no product."""
    if not lines:
        raise OrderError(f"Order {external_id} from {channel.name} has no lines.")
    for line in lines:
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise OrderError(
                f"Order {external_id}: the quantity of {line.label} must be a "
                "whole number above zero."
            )
        if line.requires_shipping and line.product is None:
            raise OrderError(
                f"Order {external_id}: the line {line.label or '(no SKU)'}"
                + (f" (id {line.external_id})" if line.external_id else "")
                + " ships but names no product."
            )


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
