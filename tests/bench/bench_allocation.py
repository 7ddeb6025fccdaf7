"""Benchmark: N worker processes allocating M competing orders on PostgreSQL.

Prints JSON: orders/s, workers, oversold count (must be 0), deadlocks.
    python tests/bench/bench_allocation.py [--workers 8] [--orders 4000]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--no-churn", action="store_true", help="no receipts or cancels")
    options = parser.parse_args()

    bench_django("oms_bench_allocation")
    from tests.support.allocation_load import (
        build_scenario,
        invariant_violations,
        order_status_counts,
        run_workers,
    )

    order_ids = build_scenario(orders=options.orders, products=40)
    started = time.perf_counter()
    reports = run_workers(order_ids, workers=options.workers, churn=not options.no_churn)
    seconds = time.perf_counter() - started
    violations = invariant_violations()
    emit(
        {
            "benchmark": "allocation",
            "workers": options.workers,
            "orders": options.orders,
            "seconds": round(seconds, 2),
            "orders_per_second": round(options.orders / seconds, 1),
            "oversold": len(violations["oversold"]),
            "deadlocks": sum(r.deadlocks for r in reports),
            "errors": sum(len(r.errors) for r in reports),
            "receipts": sum(r.receipts for r in reports),
            "cancellations": sum(r.cancelled for r in reports),
            "statuses": order_status_counts(),
            "invariants_hold": not any(violations.values()),
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    if any(violations.values()) or any(r.errors for r in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
