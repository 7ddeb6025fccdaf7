"""`orders_import`: the one path every CSV import takes (admin, command, task).

Read and check the whole file first, look everything up with set-based
queries (`orders.importing.resolve`), then write customers, orders, lines
and timeline entries with bulk inserts in one transaction
(`orders.importing.write`): a refused file writes nothing, and `partial`
imports the valid orders whole, never half an order.
"""

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, transaction

from core.faults import fault_pause
from core.hooks import ORDER_EVENT, hook_emit
from core.limits import printable
from orders.importing.formats import detect_format
from orders.importing.reader import ImportFileError, read_table
from orders.importing.resolve import orders_resolve, parsed_customer_phone
from orders.importing.result import PREVIEW_ORDERS, ImportResult, Progress
from orders.importing.validate import ParsedOrder, parse_table, parsed_totals
from orders.importing.write import orders_write
from orders.intake import intake_hold
from orders.models import Channel, OrderStatus

__all__ = ["orders_import"]


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
    orders_resolve(
        orders=parsed.orders, channel=channel, format_code=fmt.code, result=result
    )
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
    result.held_for_money = held_for_money(importable)
    result.lines = sum(len(order.lines) for order in importable)
    new_customers = {
        o.values["email"].lower() or parsed_customer_phone(o)
        for o in importable
        if o.customer_id is None
    }
    result.new_customers = sorted(new_customers)
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
            "total": str(parsed_totals(order).total),
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
            # Intake rules run in `orders_write`, in bulk, before the new
            # orders are allocated.
            result.order_ids, statuses = orders_write(
                orders=importable, actor=actor, source=source, settle=settle
            )
            if statuses is not None:
                result.allocated = Counter(statuses.values()).get(
                    OrderStatus.ALLOCATED, 0
                )
            # The channels hear `order.created` as from the API, in bulk.
            hook_emit(
                ORDER_EVENT,
                event="order.created",
                order_ids=result.order_ids,
                reason="",
            )
            fault_pause("import.write")  # the fault suite kills it here
            # Inside the write's transaction: a background job checks here that
            # it still holds its claim (else all of this rolls back) and
            # records "written" with the orders, as one commit.
            report("written", result.lines, result.lines)
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


def held_for_money(orders: list[ParsedOrder]) -> list[tuple[int, str, str]]:
    """(row, external id, why) of the orders the import takes in on hold for
    their total or their payment (`orders.intake`; an address problem is
    reported apart)."""
    channels = Channel.objects.in_bulk({order.channel_id for order in orders})
    held = []
    for order in orders:
        hold = intake_hold(
            channel=channels[order.channel_id],
            address_problem="",
            computed_total=parsed_totals(order).total,
            stated_total=order.stated_total,
            financial_status=order.financial_status,
            currency=order.currency,
        )
        if hold is not None:
            held.append((order.first_row, order.external_id, hold.note))
    return held
