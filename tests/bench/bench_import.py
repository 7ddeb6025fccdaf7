"""Benchmark: import a generated 100,000-line CSV file (~25,000 orders) on
PostgreSQL until it is ready to pick, and, in the same run, a plain
django-import-export ModelResource row-at-a-time import of a 10,000-line
sample for comparison. Prints JSON.

Each path runs in its own process on fresh data with stock for every line:

- `batches` (the path before set-based allocation): the import, then the new
  orders allocated `ALLOCATION_BATCH` at a time through `orders_allocate`,
  then their "order received" e-mails queued chunk by chunk;
- `after` (the path before issue 15's last step): the import commits its
  orders pending, then `imported_orders_settle` allocates them with the
  set-based engine and queues their e-mails in bulk;
- `set` (today's): `import_confirm`, which plans the allocation inside the
  import's transaction and writes each order once with its final status,
  the reservations and the e-mails in the same transaction. Its import and
  import-to-allocated seconds are the same figure.

For each: import-only seconds, import-to-allocated seconds (every order
allocated or backordered, every e-mail queued) and peak RSS.
`--baseline-lines 0` skips the ModelResource comparison.

    python tests/bench/bench_import.py [--lines 100000] [--baseline-lines 10000]
        [--paths batches,after,set] [--rules 20]

`--rules 20` times the `set` path once more with 20 active intake rules
(evaluated in bulk inside the import) and reports the ratio to the same
import without rules.

`--api-clients N` (4 by default from 1,000,000 lines) serves the order API
with gunicorn while the `set` path imports and has N clients place one-line
orders (`bench_numbers.py`'s clients, on SKUs the import does not use) for
as long as the import runs: their p50 / p99 / max against the issue's
p99 ≤ 100 ms. The importing process reads the file from disk (the import
streams it: its peak RSS is the import's working memory, not the file).

`--foreign-keys` times the `set` path (and, with `--rules`, the ruled one)
once more with database foreign keys on the timeline and tag rows (which
have none, migration 0022) and reports the ratios to the same import
without them.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402
from tests.bench.import_files import generate, plain_resource_import  # noqa: E402


def _settle_in_batches(order_ids: list[int]) -> None:
    """Allocate and mail the new orders the way imports did before set-based
    allocation: a few hundred orders per transaction, e-mails per chunk."""
    from django.db import transaction

    from orders.emails import customer_emails_queue_many
    from orders.services.allocation import ALLOCATION_BATCH, orders_allocate

    for start in range(0, len(order_ids), ALLOCATION_BATCH):
        orders_allocate(
            order_ids=order_ids[start : start + ALLOCATION_BATCH], actor=None
        )
    for start in range(0, len(order_ids), 5000):
        with transaction.atomic():
            customer_emails_queue_many(
                order_ids=order_ids[start : start + 5000], kind="order_received"
            )


def _cpu_seconds(backend_pid: int | None) -> tuple[float, float | None]:
    """CPU seconds used so far by this process and by its PostgreSQL backend
    (read from /proc when the server runs on this machine, else None).

    On a shared machine CPU time moves far less than wall time when other
    work competes for the cores, so A/B comparisons read it beside wall time.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{backend_pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return own, None
    return own, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_peak_rss_mb() -> float:
    """This process's own peak resident memory, in MB.

    Linux's `ru_maxrss` of a process started by `subprocess` counts the
    parent's resident memory at the start (a trivial child of a parent
    holding 400 MB reports 411 MB): the peak of this process's own memory
    map (`VmHWM`) is read instead where there is one."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_import(path: str, settle: str) -> None:
    """Import the file and settle it in this fresh process; print JSON figures.

    A separate process so that peak memory is the import's own, not that of
    generating the test file.
    """
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    # As every figure in docs/scale-and-speed.md was measured (production-like
    # servers of a benchmark set DEBUG=0 themselves: tests/bench/httpload.py).
    os.environ.setdefault("DEBUG", "true")
    django.setup()
    from django.db import connection

    from orders.importing.services import orders_import
    from orders.models import Channel

    data = open(path, "rb")  # noqa: SIM115 - read to the end of the process
    channel = Channel.objects.get(code="bench")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    cpu_start = _cpu_seconds(backend_pid)
    started = time.perf_counter()
    if settle == "batches":
        result = orders_import(
            data=data, actor=None, channel=channel, filename="bench.csv"
        )
        imported = time.perf_counter() - started
        cpu_imported = _cpu_seconds(backend_pid)
        _settle_in_batches(result.order_ids)
    elif settle == "after":
        # The path before the import settled in its own transaction: import
        # (orders written pending), then `imported_orders_settle` after.
        from orders.importing.confirm import imported_orders_settle

        result = orders_import(
            data=data, actor=None, channel=channel, filename="bench.csv"
        )
        imported = time.perf_counter() - started
        cpu_imported = _cpu_seconds(backend_pid)
        imported_orders_settle(order_ids=result.order_ids, actor=None)
    else:
        # Today's: `import_confirm`, which allocates and queues the e-mails in
        # the import's own transaction (import and settling are one step).
        from orders.importing.confirm import import_confirm

        result = import_confirm(
            data=data,
            actor=None,
            channel=channel,
            format_code="auto",
            filename="bench.csv",
            partial=False,
        ).result
        imported = time.perf_counter() - started
        cpu_imported = _cpu_seconds(backend_pid)
    ready = time.perf_counter() - started
    cpu_ready = _cpu_seconds(backend_pid)

    def spent(since, until) -> dict:
        return {
            "client": round(until[0] - since[0], 2),
            "database": None if since[1] is None else round(until[1] - since[1], 2),
        }

    assert result.written and result.ok, result.problems[:5]
    print(
        json.dumps(
            {
                "import_seconds": imported,
                "ready_seconds": ready,
                "cpu_seconds": {
                    "import": spent(cpu_start, cpu_imported),
                    "allocation_and_emails": spent(cpu_imported, cpu_ready),
                },
                "orders": result.orders,
                "lines": result.lines,
                "new_customers": len(result.new_customers),
                "peak_rss_mb": _own_peak_rss_mb(),
            }
        )
    )


def _fresh_catalogue(skus: list[str]):
    """Empty the database and stock every SKU generously at two locations."""
    from django.core.management import call_command

    from inventory.models import Location, Product, StockLevel, StockMovement
    from orders.models import Channel

    call_command("flush", interactive=False, verbosity=0)
    channel = Channel.objects.create(code="bench", name="Bench")
    products = Product.objects.bulk_create(
        Product(sku=sku, name=f"Bench product {sku}") for sku in skus
    )
    locations = [
        Location.objects.create(code="MAIN", name="Main", country="US", priority=1),
        Location.objects.create(
            code="OVERFLOW", name="Overflow", country="US", priority=5
        ),
    ]
    # Stock for every line: opening balances straight into the ledger.
    StockLevel.objects.bulk_create(
        StockLevel(product=product, location=location, on_hand=5000)
        for product in products
        for location in locations
    )
    StockMovement.objects.bulk_create(
        StockMovement(
            product=product,
            location=location,
            delta=5000,
            reason=StockMovement.Reason.RECEIPT,
            reference="BENCH-OPENING",
        )
        for product in products
        for location in locations
    )
    return channel


def _check_settled(lines: int) -> dict:
    from django.db.models import Count, F, Sum

    from connections.models import OutboundMessage
    from inventory.models import Allocation, StockLevel
    from orders.models import Order, OrderLine

    # The API orders placed meanwhile (`--api-clients`) are on SKU API-1.
    assert OrderLine.objects.exclude(sku="API-1").count() == lines
    statuses = dict(
        Order.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    reserved = Allocation.objects.aggregate(total=Sum("quantity"))["total"] or 0
    allocated = StockLevel.objects.aggregate(total=Sum("allocated"))["total"] or 0
    assert reserved == allocated, (reserved, allocated)
    assert not StockLevel.objects.filter(allocated__gt=F("on_hand")).exists()
    return {
        "statuses": statuses,
        "emails_queued": OutboundMessage.objects.filter(
            platform="email", status="pending"
        ).count(),
    }


def bench_rules_create(count: int) -> None:
    """`count` active intake rules of the kinds a shop writes (issue 20): every
    kind of condition (lines, weights, product tags, first orders and order tags
    are all read), tags and priorities on many orders, rare holds."""
    from inventory.models import Location, Product
    from orders.models import Rule, RuleAction, RuleCondition

    Product.objects.filter(sku__endswith="7").update(tags="fragile")
    overflow = Location.objects.get(code="OVERFLOW")
    kinds = [
        (
            [("total", "gte", "300"), ("first_order", "yes", "")],
            [("add_tag", "big-first")],
        ),
        ([("ship_region", "is", "ca")], [("priority", "high")]),
        ([("postcode", "starts_with", "787")], [("add_tag", "austin")]),
        ([("item_count", "gte", "10")], [("add_tag", "bulk")]),
        ([("weight", "gte", "5000")], [("shipping_method", "Freight")]),
        ([("sku", "contains", "BENCH-0001, BENCH-0002")], [("add_tag", "featured")]),
        ([("product_tag", "contains", "fragile")], [("add_tag", "fragile")]),
        ([("email_domain", "is", "corp.example")], [("priority", "high")]),
        ([("shipping_method", "is", "express")], [("priority", "urgent")]),
        ([("ship_country", "is_not", "US")], [("exclude_location", "")]),
        ([("delivery_within", "lte", "2")], [("priority", "urgent")]),
        ([("address_failed", "yes", "")], [("add_tag", "fix-address")]),
        ([("email", "is", "customer1@example.com")], [("hold", "fraud_review")]),
        ([("total", "lt", "20")], [("add_tag", "small")]),
        ([("order_tag", "contains", "bulk")], [("priority", "high")]),
        ([("item_count", "eq", "1")], [("add_tag", "single")]),
        ([("first_order", "no", ""), ("total", "gte", "200")], [("add_tag", "loyal")]),
        ([("sku", "contains", "BENCH-0499")], [("email", "ops@example.com")]),
        ([("channel", "is", "bench"), ("total", "gte", "150")], [("priority", "high")]),
        ([("total", "gte", "5000")], [("hold", "fraud_review")]),
    ]
    for n in range(count):
        conditions, actions = kinds[n % len(kinds)]
        rule = Rule.objects.create(name=f"Bench rule {n + 1}", position=n)
        for field, operator, value in conditions:
            RuleCondition.objects.create(
                rule=rule, field=field, operator=operator, value=value
            )
        for kind, value in actions:
            RuleAction.objects.create(
                rule=rule,
                kind=kind,
                value=value,
                location=overflow if kind == "exclude_location" else None,
            )


def _cpu_ratios(ruled: dict, plain: dict) -> dict:
    def total(cpu: dict, phases) -> float | None:
        spent = [cpu[phase][side] for phase in phases for side in cpu[phase]]
        return None if None in spent else sum(spent)

    ratios = {}
    for name, phases in (
        ("import_cpu_ratio_vs_no_rules", ["import"]),
        (
            "import_to_allocated_cpu_ratio_vs_no_rules",
            ["import", "allocation_and_emails"],
        ),
    ):
        with_rules, without = total(ruled, phases), total(plain, phases)
        if with_rules is not None and without:
            ratios[name] = round(with_rules / without, 3)
    return ratios


# (table, column, referenced table) of the foreign keys `--foreign-keys`
# adds: Django's, deferred to the commit.
FOREIGN_KEYS = [
    ("orders_orderevent", "order_id", "orders_order"),
    ("orders_order_tags", "order_id", "orders_order"),
    ("orders_order_tags", "ordertag_id", "orders_ordertag"),
]


def _foreign_keys(*, add: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table, column, target in FOREIGN_KEYS:
            name = f"bench_{table}_{column}_fk"
            if add:
                cursor.execute(
                    f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY '
                    f'("{column}") REFERENCES "{target}" ("id") '
                    "DEFERRABLE INITIALLY DEFERRED"
                )
            else:
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


def _ratios(with_keys: dict, without: dict) -> dict:
    ratios = {
        "import_to_allocated_ratio": round(
            with_keys["import_to_allocated_seconds"]
            / without["import_to_allocated_seconds"],
            3,
        )
    }
    cpu = [
        sum(with_keys["cpu_seconds"]["import"].values()),
        sum(without["cpu_seconds"]["import"].values()),
    ]
    if None not in cpu:
        ratios["import_cpu_ratio"] = round(cpu[0] / cpu[1], 3)
    return ratios


def _api_seed() -> str:
    """A product the import does not use, stocked, and an API channel's key."""
    from connections.services.api_keys import channel_api_key_create
    from inventory.models import Location, Product
    from inventory.services import stock_receive
    from orders.models import Channel

    stock_receive(
        product=Product.objects.create(sku="API-1", name="API-1"),
        location=Location.objects.get(code="MAIN"),
        quantity=10_000_000,
        actor=None,
    )
    api = Channel.objects.create(code="api", name="API shop")
    return channel_api_key_create(channel=api, name="bench")[1]


class _ApiLoad:
    """gunicorn serving the order API and `clients` threads placing orders
    (`bench_numbers.api_client`) until stopped."""

    def __init__(self, clients: int) -> None:
        self.clients = clients

    def __enter__(self):
        import threading

        from tests.bench.bench_numbers import Timings, api_body, api_client
        from tests.bench.benchsupport import ROOT
        from tests.bench.httpload import gunicorn_serve, post, production_env

        key = _api_seed()
        self.server, port = gunicorn_serve(root=ROOT, env=production_env(), threads=4)
        auth = {"Authorization": f"Bearer {key}"}
        for n in range(1, 21):  # warm both workers up
            post(port, "/api/v1/orders", api_body(-n), auth)
        self.timings, self.stop = Timings(), threading.Event()
        self.threads = [
            threading.Thread(
                target=api_client,
                args=(port, key, client * 10_000_000, 0.02, self.stop, self.timings),
            )
            for client in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.until = time.perf_counter()
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()

    def summary(self) -> dict:
        return {
            "clients": self.clients,
            "target_p99_ms": 100,
            **self.timings.summary([(self.started, self.until)]),
        }


def run_path(
    settle: str,
    data: bytes,
    skus: list[str],
    lines: int,
    rules: int = 0,
    api_clients: int = 0,
) -> dict:
    from contextlib import nullcontext

    _fresh_catalogue(skus)
    bench_rules_create(rules)
    api = _ApiLoad(api_clients) if api_clients else nullcontext()
    with tempfile.NamedTemporaryFile(suffix=".csv") as file:
        file.write(data)
        file.flush()
        with api:
            child = subprocess.run(
                [sys.executable, __file__, "--child", file.name, "--settle", settle],
                check=True,
                capture_output=True,
                text=True,
                env={
                    **os.environ,
                    "OMS_IMPORT_MAX_BYTES": str(max(len(data), 1 << 20)),
                },
            )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return {
        "import_seconds": round(figures["import_seconds"], 2),
        "import_to_allocated_seconds": round(figures["ready_seconds"], 2),
        "allocation_and_emails_seconds": round(
            figures["ready_seconds"] - figures["import_seconds"], 2
        ),
        "orders": figures["orders"],
        "lines_per_second_to_allocated": round(lines / figures["ready_seconds"]),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        # CPU seconds of the importing process and of its database backend:
        # steadier than wall time on a busy machine.
        "cpu_seconds": figures["cpu_seconds"],
        **({"api_orders_during_import": api.summary()} if api_clients else {}),
        **_check_settled(lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--baseline-lines", type=int, default=10_000)
    parser.add_argument("--paths", default="batches,set")
    parser.add_argument(
        "--rules",
        type=int,
        default=0,
        help="also time the `set` path with this many active intake rules (20)",
    )
    parser.add_argument(
        "--foreign-keys",
        action="store_true",
        help="also time the `set` path with foreign keys on timeline and tag rows",
    )
    parser.add_argument(
        "--api-clients",
        type=int,
        default=None,
        help="API clients placing orders during the `set` import (4 from 1M lines)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--settle", default="set", help=argparse.SUPPRESS)
    parser.add_argument(
        "--database",
        default="oms_bench_import",
        help="PostgreSQL database to (re)create",
    )
    options = parser.parse_args()
    if options.child:
        child_import(options.child, options.settle)
        return

    bench_django(options.database)
    skus = [f"BENCH-{n:04d}" for n in range(500)]
    data = generate(options.lines, skus, "BIG")
    api_clients = options.api_clients
    if api_clients is None:
        api_clients = 4 if options.lines >= 1_000_000 else 0
    paths = {
        name: run_path(
            name,
            data,
            skus,
            options.lines,
            api_clients=api_clients if name == "set" else 0,
        )
        for name in options.paths.split(",")
    }
    if options.rules:
        # The same import with rules, against the same import without them.
        plain = paths.get("set") or run_path("set", data, skus, options.lines)
        ruled = run_path("set", data, skus, options.lines, rules=options.rules)
        paths[f"set_with_{options.rules}_rules"] = {
            **ruled,
            "rules": options.rules,
            "import_ratio_vs_no_rules": round(
                ruled["import_seconds"] / plain["import_seconds"], 3
            ),
            "import_to_allocated_ratio_vs_no_rules": round(
                ruled["import_to_allocated_seconds"]
                / plain["import_to_allocated_seconds"],
                3,
            ),
            # The same ratios in CPU seconds (this process and its database
            # backend), for a machine where other work skews wall time.
            **_cpu_ratios(ruled["cpu_seconds"], plain["cpu_seconds"]),
        }

    if options.foreign_keys:
        _foreign_keys(add=True)
        try:
            for rules in [0, options.rules] if options.rules else [0]:
                name = f"set_with_{rules}_rules" if rules else "set"
                without = paths.get(name) or run_path(
                    "set", data, skus, options.lines, rules=rules
                )
                paths[name] = without
                keyed = run_path("set", data, skus, options.lines, rules=rules)
                paths[f"{name}_with_foreign_keys"] = {
                    **keyed,
                    "vs_without_foreign_keys": _ratios(keyed, without),
                }
        finally:
            _foreign_keys(add=False)

    from orders.models import Order

    main_path = paths.get("set") or next(iter(paths.values()))
    ours_lines_per_second = options.lines / main_path["import_seconds"]
    plain = None
    if options.baseline_lines:
        # `--baseline-lines 0` skips the comparison (quicker A/B runs).
        channel = _fresh_catalogue(skus)
        sample = generate(options.baseline_lines, skus, "PLAIN", seed=2)
        plain_seconds = plain_resource_import(sample, channel)
        plain_lines_per_second = options.baseline_lines / plain_seconds
        plain = {
            "plain_resource": {
                "lines": options.baseline_lines,
                "seconds": round(plain_seconds, 2),
                "lines_per_second": round(plain_lines_per_second),
            },
            "speedup_vs_plain_resource": round(
                ours_lines_per_second / plain_lines_per_second, 1
            ),
        }
    emit(
        {
            "benchmark": "import",
            "lines": options.lines,
            "orders": main_path["orders"],
            "file_mb": round(len(data) / 1_048_576, 1),
            "seconds": main_path["import_seconds"],
            "lines_per_second": round(ours_lines_per_second),
            "import_to_allocated_seconds": main_path["import_to_allocated_seconds"],
            "peak_rss_mb": main_path["peak_rss_mb"],
            "paths": paths,
            **(plain or {}),
            "orders_in_database": Order.objects.count(),
        }
    )


if __name__ == "__main__":
    main()
