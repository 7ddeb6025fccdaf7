"""`orders_import`: the one path every CSV import takes (admin, command, task).

Read and check the whole file first, looking everything up with set-based
queries (`orders.importing.resolve`) a batch of orders at a time, then write
customers, orders, lines and timeline entries with bulk inserts
(`orders.importing.write`), `OMS_IMPORT_CHUNK_ORDERS` orders to a
transaction: a refused file writes nothing, `partial` imports the valid
orders whole, never half an order, and each chunk is committed settled or
not at all. Memory stays bounded whatever the file's size
(`orders.importing.chunks`).
"""

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, transaction

from core.faults import fault_pause
from core.hooks import ORDER_EVENT, hook_emit
from core.limits import printable
from orders.importing.chunks import CheckedChunks, keep_lines, rows_index
from orders.importing.formats import detect_format
from orders.importing.reader import ImportData, ImportFileError, read_table
from orders.importing.resolve import orders_resolve, parsed_customer_phone
from orders.importing.result import PREVIEW_ORDERS, ImportResult, Progress
from orders.importing.validate import (
    ParsedOrder,
    Problem,
    orders_parse,
    parsed_totals,
)
from orders.importing.write import orders_write
from orders.intake import intake_hold
from orders.models import Channel, OrderStatus

__all__ = ["orders_import"]


def orders_import(
    *,
    data: ImportData,
    actor: AbstractBaseUser | None,
    channel: Channel | None = None,
    format_code: str = "auto",
    filename: str = "",
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    settle: bool = False,
) -> ImportResult:
    """Import orders from a CSV file (bytes, or a seekable binary file such
    as a stored file opened for reading: it is read several times, never
    held whole); see the module docstring for the rules.

    Raises ImportFileError when the file as a whole cannot be read (nothing
    written) or a chunk's write fails (the chunks before it stay written).
    Returns the result with the problems found (the first PROBLEMS_KEPT by
    row, the others counted); nothing is written when there are problems,
    unless `partial` is set (then only the valid orders are).

    With `settle` (what `import_confirm` asks) the new orders are also
    allocated and their "order received" e-mails queued, in the same
    transaction as their chunk: they are committed settled or not at all.
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


# How many more container objects may be alive than at the last collection
# before a streamed import collects (`_collect_if_grown`).
GROWN_OBJECTS = 200_000


def _collect_if_grown() -> None:
    """Collect the reference cycles of the work done since the last
    collection (the collector paused), when there may be many: only when
    the objects the collector tracks grew by `GROWN_OBJECTS` (its count of
    allocations less deallocations since the last collection).

    A batch's or chunk's work leaves almost nothing alive once done: none
    of the collections after every batch and chunk of a 300,000-line file
    found a cycle, and they cost about a tenth of the CPU the streamed path
    adds, walking the same live objects again for nothing. Cycles piling up
    are still collected before they add up to much memory."""
    if gc.get_count()[0] > GROWN_OBJECTS:
        gc.collect()


def _orders_import(
    *,
    data: ImportData,
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
    chunk_orders = settings.OMS_IMPORT_CHUNK_ORDERS
    streamed = table.row_count > keep_lines(chunk_orders)
    total = table.row_count
    report("checking", 0, total)
    result = ImportResult(format=fmt.code, notices=table.notices, dry_run=dry_run)
    last_rows, tax_included = rows_index(table, fmt) if streamed else (None, False)
    check = _Check(result=result, channel=channel, format_code=fmt.code)
    chunks = CheckedChunks(on_disk=streamed and not dry_run)
    if streamed:
        # Collected between batches and chunks when the objects tracked grew
        # (`_collect_if_grown`): what exists now is set aside, so each
        # collection walks only the import's objects.
        gc.freeze()
    try:
        batch: list[ParsedOrder] = []
        for order in orders_parse(
            table,
            fmt,
            loose=check.loose,
            last_rows=last_rows,
            shopify_tax_included=tax_included,
            progress=lambda done: report("checking", done, total),
            default_currency=settings.OMS_DEFAULT_CURRENCY,
        ):
            batch.append(order)
            if len(batch) == chunk_orders:
                importable = check.batch(batch)
                if not dry_run:
                    chunks.add(importable)
                batch = importable = []
                if streamed:
                    _collect_if_grown()
        importable = check.batch(batch)
        if not dry_run:
            chunks.add(importable)
        del batch, importable, last_rows
        check.end(partial=partial)
        report("checking", total, total)
        if dry_run or not result.orders:
            return result
        _chunks_write(
            chunks,
            result=result,
            actor=actor,
            fmt=fmt,
            filename=filename,
            settle=settle,
            report=report,
            collect=streamed,
        )
    finally:
        chunks.close()
        if streamed:
            gc.unfreeze()
    return result


class _Check:
    """What the check of a file keeps, batch by batch of its orders: the
    result's counts, problems and preview, never the orders themselves."""

    def __init__(
        self, *, result: ImportResult, channel: Channel | None, format_code: str
    ) -> None:
        self.result = result
        self.channel = channel
        self.format_code = format_code
        self.loose: list[Problem] = []
        self.new_customers: set[str] = set()

    def batch(self, orders: list[ParsedOrder]) -> list[ParsedOrder]:
        """Resolve a batch of checked orders; return the importable ones."""
        result = self.result
        result.problems_add(self.loose)
        self.loose.clear()
        if not orders:
            return []
        orders_resolve(
            orders=orders,
            channel=self.channel,
            format_code=self.format_code,
            result=result,
        )
        importable: list[ParsedOrder] = []
        for order in orders:
            if order.skip_reason == "already imported":
                result.skipped_existing.append(order.external_id)
            elif order.skip_reason:
                result.skipped_by_channel.append(
                    (order.first_row, order.external_id, order.skip_reason)
                )
            elif order.problems:
                result.problems_add(order.problems)
                result.refused_orders += 1
            else:
                importable.append(order)
        result.orders += len(importable)
        result.lines += sum(len(order.lines) for order in importable)
        result.held_for_address.extend(
            (order.first_row, order.external_id, order.address_problem)
            for order in importable
            if order.address_problem
        )
        result.held_for_money.extend(held_for_money(importable))
        self.new_customers.update(
            o.values["email"].lower() or parsed_customer_phone(o)
            for o in importable
            if o.customer_id is None
        )
        preview = PREVIEW_ORDERS - len(result.preview)
        result.preview.extend(_preview(order) for order in importable[:preview])
        return importable

    def end(self, *, partial: bool) -> None:
        """Sort the problems; a refused file imports nothing (`partial`
        imports its valid orders)."""
        result = self.result
        result.problems_add(self.loose)
        result.problems_sort()
        result.new_customers = sorted(self.new_customers)
        if result.problems and not partial:
            result.orders = result.lines = 0
            result.held_for_address, result.held_for_money = [], []
            result.new_customers, result.preview = [], []


def _preview(order: ParsedOrder) -> dict:
    return {
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


def _chunks_write(
    chunks: CheckedChunks,
    *,
    result: ImportResult,
    actor: AbstractBaseUser | None,
    fmt,
    filename: str,
    settle: bool,
    report: Callable[[str, int, int], None],
    collect: bool,
) -> None:
    """Write the checked orders, each chunk in its own transaction: its
    orders committed (with `settle`) allocated, backordered or held, with
    their e-mails queued, or not at all. A background job's claim is checked
    in each chunk's transaction (`report` inside it), so a run that lost its
    claim stops with its chunk rolled back; the chunks committed before stay
    and a retry skips their orders as already imported."""
    report("writing", 0, result.lines)
    # The file name is the system's label for the import, not data: made fit
    # for the timeline rather than refused.
    source = printable(filename) or f"{fmt.label} file"
    written_lines = 0
    settled: Counter[str] = Counter()
    for number, orders in enumerate(chunks, start=1):
        try:
            with transaction.atomic():
                # Intake rules run in `orders_write`, in bulk, before the new
                # orders are allocated.
                order_ids, statuses = orders_write(
                    orders=orders, actor=actor, source=source, settle=settle
                )
                chunk_settled = Counter(statuses.values()) if statuses else Counter()
                # The channels hear `order.created` as from the API, in bulk.
                hook_emit(
                    ORDER_EVENT, event="order.created", order_ids=order_ids, reason=""
                )
                fault_pause("import.write")  # the fault suite kills it here
                written_lines += sum(len(order.lines) for order in orders)
                # Inside the chunk's transaction: a background job checks here
                # that it still holds its claim (else the chunk rolls back)
                # and records its progress with the orders, as one commit;
                # "written" with the last chunk.
                last = number == chunks.count
                report("written" if last else "writing", written_lines, result.lines)
        except IntegrityError as error:
            raise ImportFileError(
                "Some of these orders were created by another import at the same "
                f"time; {_written_before(result)}. Run the import again: orders "
                "already in the system will be skipped."
            ) from error
        except DataError as error:
            # The checks above mirror the database's limits; this is the last
            # line of defence, so the import fails cleanly instead of with a
            # crash.
            raise ImportFileError(
                "The database refused a value in this file that the checks let "
                f"through ({str(error).splitlines()[0]}); {_written_before(result)}. "
                "Please report this file to support."
            ) from error
        result.order_ids.extend(order_ids)
        if statuses is not None:
            settled += chunk_settled
            result.allocated = settled[OrderStatus.ALLOCATED]
            result.held = settled[OrderStatus.ON_HOLD]
            result.backordered = settled[OrderStatus.BACKORDERED]
        result.written = True
        del orders
        if collect:
            _collect_if_grown()
    report("writing", result.lines, result.lines)


def _written_before(result: ImportResult) -> str:
    if not result.order_ids:
        return "nothing was written"
    return (
        f"the first {len(result.order_ids)} orders were written, the rest of the "
        "file was not"
    )


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
