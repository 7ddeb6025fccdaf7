"""Write an import's orders: customers, orders, lines, timeline entries and
history in bulk, the intake rules applied before the orders are written
and, with `settle`, every new order allocated before it is written (each
row written once, with its final status)."""

from django.utils import timezone

from core.bulk import bulk_insert
from core.history import history_context
from core.sequences import format_number, sequence_reserve
from orders import events
from orders.addresses import SHIP_TO_FIELDS
from orders.emails import customer_emails_queue_many
from orders.importing.resolve import (
    customers_lookup,
    parsed_customer_key,
    parsed_customer_phone,
)
from orders.importing.validate import ParsedOrder, parsed_totals
from orders.intake import intake_hold
from orders.models import (
    Channel,
    Customer,
    EmailKind,
    HoldReason,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Rule,
)
from orders.rules.services import rules_apply
from orders.services.allocation_import import (
    NewOrder,
    orders_allocate_unwritten,
    orders_allocate_unwritten_done,
)
from orders.services.drafts import customer_key
from orders.services.orders import ORDER_NUMBER_PREFIX
from orders.services.shipby import ship_by_many
from orders.sql import constraints_check, customers_insert_new, ids_reserve


def orders_write(
    *, orders: list[ParsedOrder], actor, source: str, settle: bool = False
) -> tuple[list[int], dict[int, str] | None]:
    """Insert customers, orders, lines and timeline entries in bulk; return
    the new orders' ids and, when they were settled here, their statuses.

    With `settle` the new pending orders are allocated before they are
    written (`_settle_unwritten`), so each is written once, with its final
    status: no UPDATE of thousands of fresh rows afterwards.
    Stock levels are locked late, to keep the time single orders wait for
    them short: customers, lines (with ids taken first), the "imported"
    timeline entries and the lines' history go in first; every order is
    planned in memory against the stock as read, the orders are written
    with the planned statuses, their e-mails queued and the foreign keys
    checked; only then are the stock levels locked (pk order) and the
    reservations and allocation entries written, so the locks are held for
    that and the commit (see `_settle_unwritten`).
    """
    user = actor if actor is not None and actor.is_authenticated else None
    new_customers: dict[str, Customer] = {}
    for order in orders:
        key = parsed_customer_key(order)
        if order.customer_id is None and key not in new_customers:
            new_customers[key] = Customer(
                email=order.values["email"].lower(),
                name=order.values.get("customer_name")
                or order.values.get("ship_name", ""),
                phone=parsed_customer_phone(order),
            )
    if new_customers:
        ids = _customers_insert(list(new_customers.values()))
        for order in orders:
            if order.customer_id is None:
                order.customer_id = ids[parsed_customer_key(order)]

    numbers = sequence_reserve(name="order", count=len(orders))
    now = timezone.now()
    source_event = OrderEvent.Kind.IMPORTED
    order_rows = []
    ship_bys = ship_by_many(
        orders=[(o.channel_id, o.placed_at or now, o.country) for o in orders]
    )
    channels = Channel.objects.in_bulk({order.channel_id for order in orders})
    holds = []
    for number, order, ship_by in zip(numbers, orders, ship_bys, strict=True):
        values = order.values
        totals = parsed_totals(order)
        # An address that fails its country's rules, a total that differs
        # from the shop's or a payment the channel does not take in yet: the
        # order is imported on hold, as `order_hold` would leave it, and stock
        # waits until someone (or the shop's payment) releases it.
        hold = intake_hold(
            channel=channels[order.channel_id],
            address_problem=order.address_problem,
            computed_total=totals.total,
            stated_total=order.stated_total,
            financial_status=order.financial_status,
            currency=order.currency,
        )
        holds.append(hold)
        order_rows.append(
            {
                "number": format_number(ORDER_NUMBER_PREFIX, number),
                "channel_id": order.channel_id,
                "external_id": order.external_id,
                "platform_id": values.get("platform_id", ""),
                "customer_id": order.customer_id,
                **(
                    {
                        "status": OrderStatus.ON_HOLD,
                        "hold_reason": hold.reason,
                        "held_from": OrderStatus.PENDING,
                    }
                    if hold is not None
                    else {
                        "status": OrderStatus.PENDING,
                        "hold_reason": "",
                        "held_from": "",
                    }
                ),
                "priority": 0,
                "placed_at": order.placed_at or now,
                "ship_by": ship_by,
                **{field: values.get(field, "") for field in SHIP_TO_FIELDS},
                "ship_country": order.country,
                "ship_phone": values.get("ship_phone", "") or values.get("phone", ""),
                "shipping_method": values.get("shipping_method", ""),
                "requested_delivery_date": None,
                "currency": order.currency,
                "subtotal": totals.subtotal,
                "discount_amount": totals.discount_amount,
                "shipping_amount": order.shipping_amount,
                "shipping_discount": order.shipping_discount,
                "tax_amount": order.tax_amount,
                "prices_include_tax": order.prices_include_tax,
                "stated_total": order.stated_total,
                "total": totals.total,
                "financial_status": order.financial_status,
                "discount_codes": order.discount_codes,
                "note": order.note,
                "note_attributes": order.note_attributes,
                "created_at": now,
                "updated_at": now,
            }
        )
    order_ids = ids_reserve(Order, len(order_rows))
    for pk, row in zip(order_ids, order_rows, strict=True):
        row["id"] = pk
    # Intake rules before the orders go in: what they change is set on the
    # rows, so each new order is written once, as the rules left it.
    _rules_intake(order_ids, orders, actor=actor, rows=order_rows)
    # The lines go in before their orders (the foreign keys are checked at
    # the commit), with ids taken now: allocations name them.
    line_ids = iter(ids_reserve(OrderLine, sum(len(o.lines) for o in orders)))
    # (line id, product id, sku, quantity) per order, for the allocation.
    lines_of: dict[int, list[tuple[int, int, str, int]]] = {}

    def line_rows():
        for order_id, order in zip(order_ids, orders, strict=True):
            planned = lines_of[order_id] = []
            for line in order.lines:
                row = {
                    "order_id": order_id,
                    "product_id": line.product_id,
                    "sku": line.sku,
                    "name": line.product_name or line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "discount_amount": line.discount_amount,
                    "total": line.total,
                    "requires_shipping": line.requires_shipping,
                    "external_id": line.external_id,
                    "quantity_shipped": 0,
                    "quantity_returned": 0,
                    "id": next(line_ids),
                }
                if line.requires_shipping:
                    # Lines that do not ship are never reserved.
                    planned.append(
                        (row["id"], line.product_id, line.sku, line.quantity)
                    )
                yield row

    def event_rows():
        for order_id, order, hold in zip(order_ids, orders, holds, strict=True):
            yield {
                "order_id": order_id,
                "kind": source_event,
                "message": f"Imported from {source}, row {order.first_row}.",
                "user_id": user.pk if user else None,
                "data": {"source": source, "row": order.first_row},
                "created_at": now,
            }
            if hold is not None:
                yield {
                    "order_id": order_id,
                    "kind": OrderEvent.Kind.HELD,
                    "message": f"Put on hold: {HoldReason(hold.reason).label}. "
                    f"{hold.note}",
                    "user_id": user.pk if user else None,
                    "data": {
                        "reason": hold.reason,
                        "from": OrderStatus.PENDING,
                        **hold.data,
                    },
                    "created_at": now,
                }

    # Field history: the tables' triggers record the new rows, with this reason.
    reason = f"imported from {source}"
    with history_context(actor=actor, reason=reason):
        bulk_insert(OrderLine, line_rows())
    bulk_insert(OrderEvent, event_rows())
    if not settle:
        with history_context(actor=actor, reason=reason):
            bulk_insert(Order, _same_columns(Order, order_rows))
        return order_ids, None
    return order_ids, _settle_unwritten(
        order_rows, lines_of, actor=actor, reason=reason
    )


def _settle_unwritten(
    order_rows: list[dict],
    lines_of: dict[int, list[tuple[int, int, str, int]]],
    *,
    actor,
    reason: str,
) -> dict[int, str]:
    """Allocate the new orders still pending after the intake rules (held
    ones are left alone), priority first, then oldest, writing every order
    once, with the status it ends in, and queue their "order received"
    e-mails. Returns every new order's status: as allocated, or as written
    (held at intake, nothing to ship).

    Lock order (see `orders_allocate_unwritten`): the plan is made against
    the stock levels as read; the orders (with the planned statuses), their
    history and e-mails are written and every foreign key written so far is
    checked (`SET CONSTRAINTS ALL IMMEDIATE`, otherwise left to the commit)
    before the stock levels are locked. From the lock to the commit only the
    reservations, the allocation entries and their checks are written (and
    the few orders re-planned, if the stock moved meanwhile).
    """
    order_ids = [row["id"] for row in order_rows]
    # An order none of whose lines ships is complete at once, as the
    # allocation leaves it (`orders.services.allocation`).
    nothing_to_ship = [
        row
        for row in order_rows
        if row["status"] == OrderStatus.PENDING and not lines_of[row["id"]]
    ]
    for row in nothing_to_ship:
        row["status"] = OrderStatus.DELIVERED
    events.order_events_insert(
        events.order_event_nothing_to_ship_row(
            order_id=row["id"], actor=actor, previous=OrderStatus.PENDING
        )
        for row in nothing_to_ship
    )
    waiting = sorted(
        (row for row in order_rows if row["status"] == OrderStatus.PENDING),
        key=lambda row: (-row["priority"], row["placed_at"], row["id"]),
    )

    def write_orders(planned: dict[int, str]) -> None:
        for row in waiting:
            row["status"] = planned[row["id"]]
        with history_context(actor=actor, reason=reason):
            bulk_insert(Order, _same_columns(Order, order_rows))
        customer_emails_queue_many(order_ids=order_ids, kind=EmailKind.RECEIVED)
        constraints_check()

    statuses, reserved_at = orders_allocate_unwritten(
        orders=[
            NewOrder(
                pk=row["id"],
                country=row["ship_country"],
                lines=lines_of[row["id"]],
                pin=row.get("routing_pin_id"),
                exclude=frozenset(row.get("routing_exclude") or ()),
            )
            for row in waiting
        ],
        actor=actor,
        write_orders=write_orders,
    )
    allocated = orders_allocate_unwritten_done(
        statuses=statuses, reserved_at=reserved_at, actor=actor
    )
    return {row["id"]: row["status"] for row in order_rows} | allocated


def _rules_intake(
    order_ids: list[int],
    orders: list[ParsedOrder],
    *,
    actor,
    rows: list[dict],
) -> None:
    """Apply the intake rules, in bulk, to the new orders' `rows`, not
    written yet (see `rules_apply(unwritten=...)`). Their lines are handed
    over rather than read again."""
    # Read now, not remembered (`rules_exist`): a rule saved just before an
    # import applies to it. Without rules, the lines are not gathered.
    if not Rule.objects.filter(trigger=Rule.Trigger.INTAKE, active=True).exists():
        return
    lines = {
        order_id: [(line.product_id, line.sku, line.quantity) for line in order.lines]
        for order_id, order in zip(order_ids, orders, strict=True)
    }
    codes = dict(Channel.objects.values_list("pk", "code"))
    for row, order in zip(rows, orders, strict=True):
        row["channel__code"] = codes[row["channel_id"]]
        row["customer__email"] = order.values["email"]
    try:
        rules_apply(
            order_ids=order_ids,
            trigger=Rule.Trigger.INTAKE,
            actor=actor,
            lines=lines,
            unwritten={row["id"]: row for row in rows},
        )
    finally:
        for row in rows:
            del row["channel__code"], row["customer__email"]


def _same_columns(model, rows: list[dict]) -> list[dict]:
    """Give every row the columns any row has (a rule may have set a column
    on a few), the others with the field's default: COPY takes one column
    list for all rows."""
    names = set().union(*(row.keys() for row in rows)) if rows else set()
    fields = {field.attname: field for field in model._meta.concrete_fields}
    for name in names:
        missing = [row for row in rows if name not in row]
        if missing:
            # One default for all: the rows are only read (by COPY) from here.
            default = fields[name].get_default()
            for row in missing:
                row[name] = default
    return rows


def _customers_insert(customers: list[Customer]) -> dict[str, int]:
    """Insert new customers and map every one's key (`customer_key`: the
    e-mail in lower case, or the phone of one without) to its id.

    Another import may add the same customer meanwhile: theirs is kept.
    """
    ids = dict(
        customers_insert_new(
            emails=[c.email for c in customers],
            names=[c.name for c in customers],
            phones=[c.phone for c in customers],
            now=timezone.now(),
        )
    )
    keys = [customer_key(email=c.email, phone=c.phone) for c in customers]
    missing = [key for key in keys if key not in ids]
    ids.update(customers_lookup(missing))
    return ids
