"""Benchmark: N worker processes allocating M competing orders on PostgreSQL.

Two phases on fresh data: pure allocation, then allocation while the same
workers also cancel one order in ten and receive stock every 25 orders
(each of which re-allocates backorders). Prints JSON with orders/s, workers,
oversold count (must be 0) and deadlocks for each phase.

    python tests/bench/bench_allocation.py [--workers 8] [--orders 4000] [--batch 25]
        [--products 40]

`--products 1 --batch 1` is the hot-row case of docs/scale.md: every order
wants the same SKU, one order per transaction, as API orders of one best
seller would.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402


def run_phase(
    *, orders: int, workers: int, batch: int, churn: bool, products: int = 40
) -> dict:
    from django.core.management import call_command

    from tests.support.allocation_load import (
        build_scenario,
        invariant_violations,
        order_status_counts,
        run_workers,
    )

    call_command("flush", interactive=False, verbosity=0)
    order_ids = build_scenario(orders=orders, products=products)
    started = time.perf_counter()
    reports = run_workers(order_ids, workers=workers, churn=churn, batches=[batch])
    seconds = time.perf_counter() - started
    violations = invariant_violations()
    return {
        "churn": churn,
        "seconds": round(seconds, 2),
        "orders_per_second": round(orders / seconds, 1),
        "oversold": len(violations["oversold"]),
        "deadlocks": sum(r.deadlocks for r in reports),
        "errors": sum(len(r.errors) for r in reports),
        "receipts": sum(r.receipts for r in reports),
        "cancellations": sum(r.cancelled for r in reports),
        "statuses": order_status_counts(),
        "invariants_hold": not any(violations.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=25, help="orders per transaction")
    parser.add_argument(
        "--products", type=int, default=40, help="SKUs the orders compete for"
    )
    parser.add_argument(
        "--database",
        default="oms_bench_allocation",
        help="PostgreSQL database to (re)create",
    )
    options = parser.parse_args()

    bench_django(options.database)
    phases = [
        run_phase(
            orders=options.orders,
            workers=options.workers,
            batch=options.batch,
            churn=churn,
            products=options.products,
        )
        for churn in (False, True)
    ]
    emit(
        {
            "benchmark": "allocation",
            "workers": options.workers,
            "orders": options.orders,
            "batch": options.batch,
            "products": options.products,
            "orders_per_second": phases[0]["orders_per_second"],
            "oversold": sum(p["oversold"] for p in phases),
            "deadlocks": sum(p["deadlocks"] for p in phases),
            "phases": phases,
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    if not all(p["invariants_hold"] and p["errors"] == 0 for p in phases):
        sys.exit(1)


if __name__ == "__main__":
    main()
