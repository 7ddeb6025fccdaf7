"""A competing-orders load for the allocation engine, shared by the
PostgreSQL concurrency test and the allocation benchmark.

Worker processes each take an interleaved slice of pending orders and
allocate them, while also receiving stock and cancelling some of their
orders, so allocations, releases and backorder re-allocation all race.
`run_workers_with_import` adds one more process importing a CSV file of
orders for the same products, allocated set-based in small chunks.
"""

import csv
import io
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import OperationalError, close_old_connections, connections
from django.db.models import Count, F, Sum
from django.utils import timezone

from core.sequences import format_number, sequence_reserve
from inventory.models import Allocation, Location, Product, StockLevel, StockMovement
from inventory.services import stock_receive
from orders.exceptions import OrderStateError
from orders.models import Channel, Customer, Order, OrderLine, OrderStatus
from orders.services.allocation import order_allocate, orders_allocate
from orders.services.lifecycle import order_cancel


@dataclass
class WorkerReport:
    allocated: int = 0
    backordered: int = 0
    cancelled: int = 0
    receipts: int = 0
    deadlocks: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def build_scenario(*, orders: int, products: int = 12, seed: int = 7) -> list[int]:
    """Create scarce stock over three locations and `orders` pending orders."""
    rng = random.Random(seed)
    locations = [
        Location.objects.create(
            code=f"W{n}", name=f"Warehouse {n}", country="US", priority=n
        )
        for n in range(3)
    ]
    catalogue = Product.objects.bulk_create(
        Product(sku=f"LOAD-{n:03d}", name=f"Load product {n}") for n in range(products)
    )
    for product in catalogue:
        for location in locations:
            stock_receive(
                product=product,
                location=location,
                quantity=rng.randint(1, max(2, orders // products // 2)),
                actor=None,
                reference="LOAD-OPENING",
            )
    channel = Channel.objects.create(code="load", name="Load test")
    customer = Customer.objects.create(email="load@example.com", name="Load")
    numbers = sequence_reserve(name="order", count=orders)
    now = timezone.now()
    created = Order.objects.bulk_create(
        Order(
            number=format_number("SO", number),
            channel=channel,
            external_id=f"LOAD-{number}",
            customer=customer,
            ship_name="Load",
            ship_address1="1 Test Way",
            ship_city="Reno",
            ship_country="US",
            placed_at=now,
        )
        for number in numbers
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=(quantity := rng.randint(1, 3)),
            unit_price=Decimal("9.99"),
            total=Decimal("9.99") * quantity,
        )
        for order in created
        for product in rng.sample(catalogue, k=rng.randint(1, min(3, len(catalogue))))
    )
    return [order.pk for order in created]


def _is_deadlock(error: Exception) -> bool:
    cause = getattr(error, "__cause__", None)
    return "deadlock" in f"{error} {cause} {type(cause).__name__}".lower()


def _work(order_ids: list[int], seed: int, churn: bool, batch: int) -> WorkerReport:
    close_old_connections()
    rng = random.Random(seed)
    report = WorkerReport()
    products = list(Product.objects.values_list("pk", flat=True))
    locations = list(Location.objects.all())
    started = time.perf_counter()
    for start in range(0, len(order_ids), batch):
        chunk = order_ids[start : start + batch]
        try:
            if batch == 1:
                orders = [order_allocate(order=Order(pk=chunk[0]), actor=None)]
            else:
                orders = orders_allocate(order_ids=chunk, actor=None)
            for order in orders:
                if order.status == OrderStatus.ALLOCATED:
                    report.allocated += 1
                else:
                    report.backordered += 1
            # Orders a concurrent backorder re-allocation settled first.
            report.allocated += len(chunk) - len(orders)
            if churn:
                # One cancellation per ten orders, one receipt per twenty-five.
                for offset, order in enumerate(orders, start=start):
                    if offset % 10 == 3:
                        order_cancel(order=order, actor=None, reason="load")
                        report.cancelled += 1
                    if offset % 25 == 0:
                        stock_receive(
                            product=Product(pk=rng.choice(products)),
                            location=rng.choice(locations),
                            quantity=rng.randint(1, 4),
                            actor=None,
                            reference="LOAD-RECEIPT",
                        )
                        report.receipts += 1
        except OrderStateError:
            report.allocated += len(chunk)
        except OperationalError as error:
            if _is_deadlock(error):
                report.deadlocks += 1
            else:
                report.errors.append(f"orders {chunk}: {error}")
        except Exception as error:  # noqa: BLE001 - every failure must be reported
            report.errors.append(f"orders {chunk}: {type(error).__name__}: {error}")
    report.seconds = time.perf_counter() - started
    connections.close_all()
    return report


def _run_slice(arguments: tuple[list[int], int, bool, int]) -> WorkerReport:
    return _work(*arguments)


def run_workers(
    order_ids: list[int],
    *,
    workers: int,
    churn: bool = True,
    batches: list[int] | None = None,
) -> list[WorkerReport]:
    """Allocate the orders in `workers` OS processes, each with its own connection.

    `batches` gives each worker its batch size (1 = one order per transaction
    through `order_allocate`, more = `orders_allocate`); it cycles if short.
    """
    batches = batches or [1]
    slices = [order_ids[n::workers] for n in range(workers)]
    # Children must open their own connections, never share the parent's.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    arguments = [(s, n, churn, batches[n % len(batches)]) for n, s in enumerate(slices)]
    with context.Pool(processes=workers) as pool:
        return pool.map(_run_slice, arguments)


def import_file(*, orders: int, products: int = 12, seed: int = 11) -> bytes:
    """An OMS-format CSV file of `orders` orders (1-3 lines) for the load's
    products, to import while the workers run."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["order_ref", "customer_email", "ship_name", "ship_address1", "ship_city"]
        + ["ship_region", "ship_postcode", "ship_country", "sku", "quantity"]
        + ["unit_price"]
    )
    for number in range(orders):
        for product in rng.sample(range(products), k=rng.randint(1, 3)):
            writer.writerow(
                [f"IMP-{number}", f"buyer{number % 40}@example.com", "Buyer"]
                + ["2 Import Rd", "Reno", "NV", "89501", "US", f"LOAD-{product:03d}"]
                + [rng.randint(1, 3), "9.99"]
            )
    return buffer.getvalue().encode()


@dataclass
class ImportReport:
    orders: int = 0
    allocated: int | None = None
    errors: list[str] = field(default_factory=list)


def _import(data: bytes, chunk: int) -> ImportReport:
    from orders.importing.confirm import import_confirm
    from orders.services import allocation

    close_old_connections()
    report = ImportReport()
    # The import allocates in its own transaction, locking the stock levels
    # late; small chunks for whatever settles after it (re-settling).
    allocation.SET_ALLOCATION_CHUNK = chunk
    try:
        confirmed = import_confirm(
            data=data,
            actor=None,
            channel=Channel.objects.get(code="load"),
            format_code="oms",
            filename="load.csv",
            partial=False,
        )
        report.orders = confirmed.result.orders
        report.allocated = confirmed.allocated
        report.errors.extend(str(problem) for problem in confirmed.result.problems)
    except Exception as error:  # noqa: BLE001 - every failure must be reported
        report.errors.append(f"import: {type(error).__name__}: {error}")
    connections.close_all()
    return report


def _run_job(arguments: tuple) -> WorkerReport | ImportReport:
    if arguments[0] == "import":
        return _import(*arguments[1:])
    return _work(*arguments[1:])


def run_workers_with_import(
    order_ids: list[int],
    *,
    data: bytes,
    workers: int,
    chunk: int = 40,
    batches: list[int] | None = None,
) -> tuple[list[WorkerReport], ImportReport]:
    """Run `workers` allocating (and cancelling, and receiving) processes and
    one importing `data` at the same time."""
    batches = batches or [1]
    slices = [order_ids[n::workers] for n in range(workers)]
    connections.close_all()
    context = multiprocessing.get_context("fork")
    jobs = [("import", data, chunk)] + [
        ("work", s, n, True, batches[n % len(batches)]) for n, s in enumerate(slices)
    ]
    with context.Pool(processes=len(jobs)) as pool:
        reports = pool.map(_run_job, jobs, chunksize=1)
    return reports[1:], reports[0]


def invariant_violations() -> dict[str, list]:
    """Return every broken stock or order rule (empty lists when all hold)."""
    oversold = list(
        StockLevel.objects.filter(allocated__gt=F("on_hand")).values_list(
            "pk", flat=True
        )
    )
    negative = list(
        StockLevel.objects.filter(allocated__lt=0).values_list("pk", flat=True)
    )
    reserved = dict(
        Allocation.objects.values("stock_level")
        .annotate(total=Sum("quantity"))
        .values_list("stock_level", "total")
    )
    ledger = {
        (product, location): total
        for product, location, total in StockMovement.objects.values(
            "product", "location"
        )
        .annotate(total=Sum("delta"))
        .values_list("product", "location", "total")
    }
    allocation_mismatch, ledger_mismatch = [], []
    for level in StockLevel.objects.all():
        if reserved.get(level.pk, 0) != level.allocated:
            allocation_mismatch.append(
                (level.pk, level.allocated, reserved.get(level.pk, 0))
            )
        if ledger.get((level.product_id, level.location_id), 0) != level.on_hand:
            ledger_mismatch.append(level.pk)
    settled = {OrderStatus.ALLOCATED, OrderStatus.BACKORDERED, OrderStatus.CANCELLED}
    unsettled = list(
        Order.objects.exclude(status__in=settled).values_list("number", "status")
    )
    under_reserved = [
        line.pk
        for line in OrderLine.objects.filter(
            order__status=OrderStatus.ALLOCATED
        ).annotate(held=Sum("allocations__quantity"))
        if (line.held or 0) != line.quantity
    ]
    cancelled_holding = list(
        Allocation.objects.filter(
            order_line__order__status=OrderStatus.CANCELLED
        ).values_list("pk", flat=True)
    )
    return {
        "oversold": oversold,
        "negative_allocated": negative,
        "allocation_sum_mismatch": allocation_mismatch,
        "ledger_mismatch": ledger_mismatch,
        "unsettled_orders": unsettled,
        "allocated_orders_short": under_reserved,
        "cancelled_orders_holding_stock": cancelled_holding,
    }


def order_status_counts() -> dict[str, int]:
    return dict(Order.objects.values_list("status").annotate(n=Count("pk")).order_by())
