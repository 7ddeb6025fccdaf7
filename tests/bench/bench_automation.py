"""Benchmark: what ship-by dates and routing reasons cost an import of
~25,000 orders (the 100,000-line file of bench_import). Prints JSON.

- `ship_by_many` for N new orders (two queries, then memoised dates), on
  PostgreSQL with five locations and two channels;
- routing: `plan_allocation` for N orders over five locations, alone and
  with `routing_record` (what each allocated entry carries), and the size of
  the recorded JSON.

    python tests/bench/bench_automation.py [--orders 25000] [--database oms_bench_automation]
"""

import argparse
import datetime
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=25_000)
    parser.add_argument("--database", default="oms_bench_automation")
    options = parser.parse_args()
    bench_django(options.database)

    from django.utils import timezone

    from inventory.allocation import Demand, Source, plan_allocation, routing_record
    from inventory.models import Location
    from orders.models import Channel
    from orders.services.shipby import ship_by_many

    rng = random.Random(1)
    locations = [
        Location.objects.create(
            code=f"L{n}", name=f"Location {n}", country="US", priority=10 * n
        )
        for n in range(5)
    ]
    channels = [
        Channel.objects.create(code="web", name="Web"),
        Channel.objects.create(
            code="phone", name="Phone", cutoff_time=datetime.time(11), handling_days=1
        ),
    ]
    start = timezone.now() - datetime.timedelta(days=30)
    orders = [
        (
            rng.choice(channels).pk,
            start + datetime.timedelta(seconds=rng.randrange(30 * 86400)),
            rng.choice(["US", "CA", "DE", "GB"]),
        )
        for _ in range(options.orders)
    ]
    began = time.perf_counter()
    dates = ship_by_many(orders=orders)
    ship_by_seconds = time.perf_counter() - began
    assert len(dates) == options.orders

    place = {loc.pk: (loc.code, loc.priority) for loc in locations}
    requests = []
    for order in range(options.orders):
        products = rng.sample(range(200), rng.randint(1, 7))
        demands = [
            Demand(order * 10 + i, p, rng.randint(1, 3)) for i, p in enumerate(products)
        ]
        sources = [
            Source(
                loc.pk * 1000 + p, p, loc.pk, loc.priority, loc.code, rng.randint(0, 6)
            )
            for p in products
            for loc in locations
            if rng.random() < 0.7
        ]
        requests.append((demands, sources))

    gc.collect()
    began = time.perf_counter()
    plans = [plan_allocation(demands, sources) for demands, sources in requests]
    plan_seconds = time.perf_counter() - began

    gc.collect()
    began = time.perf_counter()
    records = [
        routing_record(
            demands=demands,
            plan=plan,
            shipped_from=[
                place[loc][0]
                for loc in dict.fromkeys(level // 1000 for _, level, _ in plan.picks)
            ],
            place=place,
            not_shipping=set(),
        )
        for (demands, _sources), plan in zip(requests, plans, strict=True)
    ]
    reasons_seconds = time.perf_counter() - began
    sizes = [len(json.dumps(record)) for record in records]

    emit(
        {
            "orders": options.orders,
            "ship_by_many_seconds": round(ship_by_seconds, 3),
            "plan_seconds": round(plan_seconds, 3),
            "reasons_seconds": round(reasons_seconds, 3),
            "reasons_share_of_planning": round(reasons_seconds / plan_seconds, 3),
            "reasons_json_bytes_mean": round(sum(sizes) / len(sizes), 1),
        }
    )


if __name__ == "__main__":
    main()
