"""The concurrency proof: real processes on PostgreSQL never oversell."""

import pytest

from tests.support.allocation_load import (
    build_scenario,
    invariant_violations,
    order_status_counts,
    run_workers,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
ORDERS = 480


def test_parallel_allocation_never_oversells_and_never_deadlocks():
    order_ids = build_scenario(orders=ORDERS)

    # Half the workers allocate order by order, half in batches: both paths race.
    reports = run_workers(order_ids, workers=WORKERS, churn=True, batches=[1, 20])

    errors = [error for report in reports for error in report.errors]
    assert errors == []
    assert sum(report.deadlocks for report in reports) == 0
    assert sum(r.allocated + r.backordered for r in reports) == ORDERS
    assert sum(report.receipts for report in reports) > 0
    assert sum(report.cancelled for report in reports) > 0
    violations = invariant_violations()
    assert violations == {name: [] for name in violations}
    counts = order_status_counts()
    # The stock is scarce on purpose: both outcomes must really happen.
    assert counts.get("allocated", 0) > 0 and counts.get("backordered", 0) > 0
    assert sum(counts.values()) == ORDERS


def test_import_allocating_while_orders_allocate_and_cancel_keeps_the_ledger():
    from orders.models import Order
    from tests.support.allocation_load import import_file, run_workers_with_import

    order_ids = build_scenario(orders=240)
    data = import_file(orders=240)

    # One process imports 240 orders and allocates them set-based in chunks
    # of 40, while four allocate single orders, cancel some and receive stock.
    reports, imported = run_workers_with_import(
        order_ids, data=data, workers=4, chunk=40, batches=[1, 1, 20, 1]
    )

    assert imported.errors == []
    assert imported.orders == 240
    errors = [error for report in reports for error in report.errors]
    assert errors == []
    assert sum(report.deadlocks for report in reports) == 0
    assert sum(report.cancelled for report in reports) > 0
    violations = invariant_violations()
    assert violations == {name: [] for name in violations}
    statuses = set(
        Order.objects.filter(external_id__startswith="IMP-").values_list(
            "status", flat=True
        )
    )
    assert statuses <= {"allocated", "backordered"} and statuses
    assert sum(order_status_counts().values()) == 480
