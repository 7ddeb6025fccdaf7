"""`orders_import`: the one path every CSV import takes (admin, command, task).

Read and check the whole file first, look everything up with set-based
queries, then write customers, orders, lines and timeline entries with bulk
inserts in one transaction: a refused file writes nothing, and `partial`
imports the valid orders whole, never half an order.
"""

import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.bulk import bulk_insert
from core.faults import fault_pause
from core.history import history_snapshot
from core.hooks import ORDER_EVENT, hook_emit
from core.limits import fit_text, model_value_problem, printable, shown
from core.sequences import format_number, sequence_reserve
from inventory.models import Product
from orders.addresses import SHIP_TO_FIELDS
from orders.emails import customer_emails_queue_many
from orders.importing.formats import detect_format
from orders.importing.reader import ImportFileError, read_table
from orders.importing.validate import ParsedOrder, Problem, parse_table
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
from orders.rules.services import rules_apply
from orders.services.allocation import (
    NewOrder,
    orders_allocate_many,
    orders_allocate_unwritten,
    orders_allocate_unwritten_done,
)
from orders.services.orders import ORDER_NUMBER_PREFIX
from orders.services.shipby import ship_by_many

Progress = Callable[[str, int, int], None]
CHUNK = 5000
PREVIEW_ORDERS = 50


@dataclass
class ImportResult:
    format: str = ""
    notices: list[str] = field(default_factory=list)
    orders: int = 0
    lines: int = 0
    new_customers: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    skipped_by_channel: list[tuple[int, str, str]] = field(default_factory=list)
    # (row, external id, problem) of orders imported on hold for an address check.
    held_for_address: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused_orders: int = 0
    written: bool = False
    dry_run: bool = False
    order_ids: list[int] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    # With `settle`: how many new orders ended fully allocated.
    allocated: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        if not self.written and not self.dry_run and self.problems:
            verb = "imported 0 of"
        text = (
            f"{verb} {self.orders} orders ({self.lines} lines), skipped "
            f"{len(self.skipped_existing)} already imported, {len(self.problems)} errors"
        )
        if self.skipped_by_channel:
            text += f", {len(self.skipped_by_channel)} fulfilled or cancelled in the channel"
        if self.held_for_address:
            text += (
                f", {len(self.held_for_address)} on hold for an address check "
                "(see each order's timeline)"
            )
        return text

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "notices": self.notices,
            "orders": self.orders,
            "lines": self.lines,
            "new_customers": len(self.new_customers),
            "new_customer_emails": self.new_customers[:PREVIEW_ORDERS],
            "skipped_existing": self.skipped_existing[:1000],
            "skipped_existing_count": len(self.skipped_existing),
            "skipped_by_channel": [list(s) for s in self.skipped_by_channel[:1000]],
            "held_for_address": [list(h) for h in self.held_for_address[:1000]],
            "problems": [str(p) for p in self.problems[:1000]],
            "problem_count": len(self.problems),
            "refused_orders": self.refused_orders,
            "written": self.written,
            "dry_run": self.dry_run,
            "summary": self.summary(),
            "preview": self.preview,
        }


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _lookup(queryset, key: str, values: list, *fields: str) -> list[tuple]:
    """`queryset.filter(key__in=values).values_list(*fields)`, for long lists.

    PostgreSQL gets the values as one array parameter (`= ANY`), which is far
    cheaper to send than thousands of placeholders; others get chunks.
    """
    # No stored text holds NUL (PostgreSQL refuses it even in a query), so a
    # value with one matches nothing; the check reports it.
    values = [value for value in values if "\x00" not in value]
    if not values:
        return []
    if connection.vendor == "postgresql":
        return list(queryset.filter(**{f"{key}__any_of": values}).values_list(*fields))
    found = []
    for chunk in _chunks(values):
        found.extend(queryset.filter(**{f"{key}__in": chunk}).values_list(*fields))
    return found


def _resolve(
    orders: list[ParsedOrder],
    *,
    channel: Channel | None,
    format_code: str,
    result: ImportResult,
) -> None:
    """Attach channels, products and customers; mark duplicates and problems."""
    channels = {c.code: c for c in Channel.objects.all()}
    for order in orders:
        code = order.values.get("channel", "")
        if code:
            if code not in channels:
                order.problems.append(
                    Problem(
                        order.first_row,
                        "channel",
                        f"unknown channel {shown(code)}; use one of: "
                        f"{', '.join(sorted(channels))}.",
                        order.external_id,
                    )
                )
                continue
            order.channel_id = channels[code].pk
        elif channel is not None:
            order.channel_id = channel.pk
        else:
            order.problems.append(
                Problem(
                    order.first_row,
                    "channel",
                    "no channel: choose one for the file or fill the channel column.",
                    order.external_id,
                )
            )

    skus = sorted({line.sku for order in orders for line in order.lines if line.sku})
    products = {
        sku: (pk, name, active)
        for pk, sku, name, active in _lookup(
            Product.objects.all(), "sku", skus, "pk", "sku", "name", "active"
        )
    }
    sku_column = "Lineitem sku" if format_code == "shopify" else "sku"
    for order in orders:
        for line in order.lines:
            found = products.get(line.sku)
            if line.sku and found is None:
                order.problems.append(
                    Problem(
                        line.row,
                        sku_column,
                        f"unknown SKU {line.sku!r}: add the product or correct the SKU.",
                        order.external_id,
                    )
                )
            elif found:
                line.product_id, line.product_name = found[0], found[1]
                if message := model_value_problem(OrderLine, "name", found[1]):
                    order.problems.append(
                        Problem(
                            line.row,
                            sku_column,
                            f"the name of product {line.sku} does not fit an order "
                            f"line: {message}",
                            order.external_id,
                        )
                    )

    by_channel: dict[int, list[str]] = {}
    for order in orders:
        if order.channel_id:
            by_channel.setdefault(order.channel_id, []).append(order.external_id)
    existing: set[tuple[int, str]] = set()
    for channel_id, external_ids in by_channel.items():
        existing.update(
            (channel_id, ext)
            for (ext,) in _lookup(
                Order.objects.filter(channel_id=channel_id),
                "external_id",
                external_ids,
                "external_id",
            )
        )
    for order in orders:
        if (order.channel_id, order.external_id) in existing:
            order.skip_reason = order.skip_reason or "already imported"

    emails = sorted(
        {o.values["email"].lower() for o in orders if o.values.get("email")}
    )
    customers = dict(
        _lookup(
            Customer.objects.annotate(email_lower=Lower("email")),
            "email_lower",
            emails,
            "email_lower",
            "pk",
        )
    )
    for order in orders:
        order.customer_id = customers.get(order.values.get("email", "").lower())


def _write(
    orders: list[ParsedOrder], *, actor, source: str, settle: bool = False
) -> tuple[list[int], dict[int, str] | None]:
    """Insert customers, orders, lines and timeline entries in bulk; return
    the new orders' ids and, when they were settled here, their statuses.

    With `settle` on PostgreSQL the new pending orders are allocated before
    they are written (`_settle_unwritten`), so each is written once, with
    its final status: no UPDATE of thousands of fresh rows afterwards.
    Stock levels are locked late, to keep the time single orders wait for
    them short: customers, lines (with ids taken first), the "imported"
    timeline entries and the lines' history go in first; every order is
    planned in memory against the stock as read, the orders are written
    with the planned statuses, their e-mails queued and the foreign keys
    checked; only then are the stock levels locked (pk order) and the
    reservations and allocation entries written, so the locks are held for
    that and the commit (see `_settle_unwritten`). On SQLite (small
    imports, tests) `_orders_import` settles the written orders instead.
    """
    user = actor if actor is not None and actor.is_authenticated else None
    new_customers: dict[str, Customer] = {}
    for order in orders:
        email = order.values["email"].lower()
        if order.customer_id is None and email not in new_customers:
            new_customers[email] = Customer(
                email=email,
                name=order.values.get("customer_name")
                or order.values.get("ship_name", ""),
                phone=order.values.get("phone", ""),
            )
    if new_customers:
        ids = _customers_insert(list(new_customers.values()))
        for order in orders:
            if order.customer_id is None:
                order.customer_id = ids[order.values["email"].lower()]

    numbers = sequence_reserve(name="order", count=len(orders))
    now = timezone.now()
    source_event = OrderEvent.Kind.IMPORTED
    order_rows = []
    ship_bys = ship_by_many(
        orders=[(o.channel_id, o.placed_at or now, o.country) for o in orders]
    )
    for number, order, ship_by in zip(numbers, orders, ship_bys, strict=True):
        values = order.values
        subtotal = sum(
            (line.unit_price * line.quantity for line in order.lines), Decimal("0")
        )
        order_rows.append(
            {
                "number": format_number(ORDER_NUMBER_PREFIX, number),
                "channel_id": order.channel_id,
                "external_id": order.external_id,
                "customer_id": order.customer_id,
                # An address that fails its country's rules is imported on
                # hold, as `order_hold` would leave it: stock waits until
                # someone checks the address and releases the order.
                **(
                    {
                        "status": OrderStatus.ON_HOLD,
                        "hold_reason": HoldReason.ADDRESS_CHECK,
                        "held_from": OrderStatus.PENDING,
                    }
                    if order.address_problem
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
                "subtotal": subtotal,
                "shipping_amount": order.shipping_amount,
                "tax_amount": order.tax_amount,
                "total": subtotal + order.shipping_amount + order.tax_amount,
                "created_at": now,
                "updated_at": now,
            }
        )
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        order_ids = _ids_reserve(Order, len(order_rows))
        for pk, row in zip(order_ids, order_rows, strict=True):
            row["id"] = pk
        # Intake rules before the orders go in: what they change is set on
        # the rows, so each new order is written once, as the rules left it.
        _rules_intake(order_ids, orders, actor=actor, rows=order_rows)
        # The lines go in before their orders (the foreign keys are checked
        # at the commit), with ids taken now: allocations name them.
        line_ids = iter(_ids_reserve(OrderLine, sum(len(o.lines) for o in orders)))
    else:
        order_ids = _insert_returning_ids(Order, order_rows)
        line_ids = None
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
                    "quantity_shipped": 0,
                    "quantity_returned": 0,
                }
                if line_ids is not None:
                    row["id"] = next(line_ids)
                    planned.append(
                        (row["id"], line.product_id, line.sku, line.quantity)
                    )
                yield row

    def event_rows():
        for order_id, order in zip(order_ids, orders, strict=True):
            yield {
                "order_id": order_id,
                "kind": source_event,
                "message": f"Imported from {source}, row {order.first_row}.",
                "user_id": user.pk if user else None,
                "data": {"source": source, "row": order.first_row},
                "created_at": now,
            }
            if order.address_problem:
                yield {
                    "order_id": order_id,
                    "kind": OrderEvent.Kind.HELD,
                    "message": f"Put on hold: {HoldReason.ADDRESS_CHECK.label}. "
                    f"{order.address_problem}",
                    "user_id": user.pk if user else None,
                    "data": {
                        "reason": HoldReason.ADDRESS_CHECK,
                        "from": OrderStatus.PENDING,
                    },
                    "created_at": now,
                }

    bulk_insert(OrderLine, line_rows())
    bulk_insert(OrderEvent, event_rows())
    # Field history for the new rows, written by the database itself.
    reason = fit_text(
        Order.history.model._meta.get_field("history_change_reason"),
        f"imported from {source}",
    )
    history_snapshot(
        OrderLine, order_ids, user=user, reason=reason, created=True, column="order_id"
    )

    def orders_history() -> None:
        history_snapshot(Order, order_ids, user=user, reason=reason, created=True)

    if not postgresql:
        orders_history()
        _rules_intake(order_ids, orders, actor=actor)
        return order_ids, None
    if not settle:
        bulk_insert(Order, _same_columns(Order, order_rows))
        orders_history()
        return order_ids, None
    return order_ids, _settle_unwritten(
        order_rows, lines_of, actor=actor, orders_history=orders_history
    )


def _settle_unwritten(
    order_rows: list[dict],
    lines_of: dict[int, list[tuple[int, int, str, int]]],
    *,
    actor,
    orders_history: Callable[[], None],
) -> dict[int, str]:
    """Allocate the new orders still pending after the intake rules (held
    ones are left alone), priority first, then oldest, writing every order
    once, with the status it ends in, and queue their "order received"
    e-mails. Returns the allocated orders' statuses.

    Lock order (see `orders_allocate_unwritten`): the plan is made against
    the stock levels as read; the orders (with the planned statuses), their
    history and e-mails are written and every foreign key written so far is
    checked (`SET CONSTRAINTS ALL IMMEDIATE`, otherwise left to the commit)
    before the stock levels are locked. From the lock to the commit only the
    reservations, the allocation entries and their checks are written (and
    the few orders re-planned, if the stock moved meanwhile).
    """
    order_ids = [row["id"] for row in order_rows]
    waiting = sorted(
        (row for row in order_rows if row["status"] == OrderStatus.PENDING),
        key=lambda row: (-row["priority"], row["placed_at"], row["id"]),
    )

    def write_orders(planned: dict[int, str]) -> None:
        for row in waiting:
            row["status"] = planned[row["id"]]
        bulk_insert(Order, _same_columns(Order, order_rows))
        orders_history()
        customer_emails_queue_many(
            order_ids=order_ids, kind=CustomerEmail.Kind.RECEIVED
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

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
    return orders_allocate_unwritten_done(
        statuses=statuses, reserved_at=reserved_at, actor=actor
    )


def _rules_intake(
    order_ids: list[int],
    orders: list[ParsedOrder],
    *,
    actor,
    rows: list[dict] | None = None,
) -> None:
    """Apply the intake rules, in bulk, to the new orders: to `rows` not
    written yet when given (see `rules_apply(unwritten=...)`), else to the
    stored orders. Their lines are handed over rather than read again."""
    # Read now, not remembered (`rules_exist`): a rule saved just before an
    # import applies to it. Without rules, the lines are not gathered.
    if not Rule.objects.filter(trigger=Rule.Trigger.INTAKE, active=True).exists():
        return
    lines = {
        order_id: [(line.product_id, line.sku, line.quantity) for line in order.lines]
        for order_id, order in zip(order_ids, orders, strict=True)
    }
    if rows is None:
        rules_apply(
            order_ids=order_ids, trigger=Rule.Trigger.INTAKE, actor=actor, lines=lines
        )
        return
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


def _settle(order_ids: list[int], statuses: dict[int, str] | None, *, actor) -> int:
    """Allocate the new orders (unless `_write` did already, giving their
    `statuses`) and queue their "order received" e-mails; return how many
    are fully allocated."""
    if statuses is not None:
        # `_settle_unwritten` queued the e-mails too.
        return Counter(statuses.values()).get(OrderStatus.ALLOCATED, 0)
    counts = orders_allocate_many(order_ids=order_ids, actor=actor)
    customer_emails_queue_many(order_ids=order_ids, kind=CustomerEmail.Kind.RECEIVED)
    return counts.get(OrderStatus.ALLOCATED, 0)


def _ids_reserve(model, count: int) -> list[int]:
    """Take `count` new primary keys from the table's sequence (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _customers_insert(customers: list[Customer]) -> dict[str, int]:
    """Insert new customers and map every e-mail (lower case) to its id.

    Another import may add the same customer meanwhile: theirs is kept.
    """
    ids: dict[str, int] = {}
    if connection.vendor == "postgresql":
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders_customer (email, name, phone, accepts_marketing, created_at) "
                "SELECT e, n, p, false, %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
                "AS t(e, n, p) ON CONFLICT DO NOTHING RETURNING lower(email), id",
                [
                    now,
                    [c.email for c in customers],
                    [c.name for c in customers],
                    [c.phone for c in customers],
                ],
            )
            ids.update(cursor.fetchall())
    else:
        Customer.objects.bulk_create(customers, batch_size=2000, ignore_conflicts=True)
    missing = [c.email for c in customers if c.email not in ids]
    ids.update(
        _lookup(
            Customer.objects.annotate(email_lower=Lower("email")),
            "email_lower",
            missing,
            "email_lower",
            "pk",
        )
    )
    return ids


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    """Insert rows and return their new primary keys, in order."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        ids = _ids_reserve(model, len(rows))
        for pk, row in zip(ids, rows, strict=True):
            row["id"] = pk
        bulk_insert(model, rows)
        return ids
    created = model.objects.bulk_create((model(**row) for row in rows), batch_size=2000)
    return [obj.pk for obj in created]


def orders_import(
    *,
    data: bytes,
    actor: AbstractBaseUser | None,
    channel: Channel | None = None,
    format_code: str = "auto",
    filename: str = "",
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    settle: bool = False,
) -> ImportResult:
    """Import orders from CSV bytes; see the module docstring for the rules.

    Raises ImportFileError when the file as a whole cannot be read. Returns the
    result with every problem found; nothing is written when there are
    problems, unless `partial` is set (then only the valid orders are).

    With `settle` (what `import_confirm` asks) the new orders are also
    allocated and their "order received" e-mails queued, in the same
    transaction: they are committed settled or not at all.
    """

    with _gc_paused():
        return _orders_import(
            data=data,
            actor=actor,
            channel=channel,
            format_code=format_code,
            filename=filename,
            partial=partial,
            dry_run=dry_run,
            progress=progress,
            settle=settle,
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is imported.

    An import holds a few objects per cell of the file (parsed orders, rows
    to write) until it ends and creates few reference cycles; the collections
    its allocations set off would walk all of them again and again, for
    nothing (measured: a tenth to a third of the Python time of a large
    import, the most in the rules' phase). Collection resumes (as it was)
    after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _orders_import(
    *,
    data: bytes,
    actor: AbstractBaseUser | None,
    channel: Channel | None,
    format_code: str,
    filename: str,
    partial: bool,
    dry_run: bool,
    progress: Progress | None,
    settle: bool = False,
) -> ImportResult:
    def report(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    table = read_table(data, max_bytes=settings.OMS_IMPORT_MAX_BYTES, filename=filename)
    fmt = detect_format(table.header, format_code)
    total = table.row_count
    report("checking", 0, total)
    parsed = parse_table(
        table,
        fmt,
        progress=lambda done: report("checking", done, total),
        default_currency=settings.OMS_DEFAULT_CURRENCY,
    )
    result = ImportResult(format=fmt.code, notices=table.notices, dry_run=dry_run)
    _resolve(parsed.orders, channel=channel, format_code=fmt.code, result=result)
    report("checking", total, total)

    result.problems = list(parsed.problems)
    importable: list[ParsedOrder] = []
    for order in parsed.orders:
        if order.skip_reason == "already imported":
            result.skipped_existing.append(order.external_id)
        elif order.skip_reason:
            result.skipped_by_channel.append(
                (order.first_row, order.external_id, order.skip_reason)
            )
        elif order.problems:
            result.problems.extend(order.problems)
            result.refused_orders += 1
        else:
            importable.append(order)
    result.problems.sort(key=lambda p: (p.row, p.column))
    if result.problems and not partial:
        importable = []
    result.orders = len(importable)
    result.held_for_address = [
        (order.first_row, order.external_id, order.address_problem)
        for order in importable
        if order.address_problem
    ]
    result.lines = sum(len(order.lines) for order in importable)
    new_emails = {
        o.values["email"].lower() for o in importable if o.customer_id is None
    }
    result.new_customers = sorted(new_emails)
    result.preview = [
        {
            "row": order.first_row,
            "external_id": order.external_id,
            "email": order.values.get("email", ""),
            "new_customer": order.customer_id is None,
            "ship_to": f"{order.values.get('ship_city', '')}, {order.country}",
            "lines": [
                (line.sku, line.quantity, str(line.unit_price)) for line in order.lines
            ],
            "total": str(
                sum((ln.unit_price * ln.quantity for ln in order.lines), Decimal("0"))
                + order.shipping_amount
                + order.tax_amount
            ),
        }
        for order in importable[:PREVIEW_ORDERS]
    ]
    if dry_run or not importable:
        return result

    report("writing", 0, result.lines)
    # The file name is the system's label for the import, not data: made fit
    # for the timeline rather than refused.
    source = printable(filename) or f"{fmt.label} file"
    try:
        with transaction.atomic():
            # Intake rules run in `_write`, in bulk, before the new orders
            # are allocated.
            result.order_ids, statuses = _write(
                importable, actor=actor, source=source, settle=settle
            )
            if settle:
                result.allocated = _settle(result.order_ids, statuses, actor=actor)
            # The channels hear `order.created` as from the API, in bulk.
            hook_emit(
                ORDER_EVENT,
                event="order.created",
                order_ids=result.order_ids,
                reason="",
            )
            fault_pause("import.write")  # the fault suite kills it here
    except IntegrityError as error:
        raise ImportFileError(
            "Some of these orders were created by another import at the same time; "
            "nothing was written. Run the import again: orders already in the system "
            "will be skipped."
        ) from error
    except DataError as error:
        # The checks above mirror the database's limits; this is the last line
        # of defence, so the import fails cleanly instead of with a crash.
        raise ImportFileError(
            "The database refused a value in this file that the checks let "
            f"through ({str(error).splitlines()[0]}); nothing was written. Please "
            "report this file to support."
        ) from error
    result.written = True
    report("writing", result.lines, result.lines)
    return result
