"""Benchmark: orders through the order API and shop webhooks through the inbox.

Runs gunicorn (gunicorn.conf.py, 2 workers, `--threads` each) and `manage.py worker`
processes against a throw-away PostgreSQL database, then

1. POSTs 3-line orders to /api/v1/orders from concurrent clients: orders/s
   and latency (each answer holds the order taken in, pending), with the
   workers running: they reserve the orders' stock meanwhile, and the time
   from the last answer until every order is allocated is reported;
2. POSTs signed Shopify `orders/create` webhooks, every tenth delivery sent
   twice: deliveries acknowledged per second and their latency (p50/p99),
   and the CPU the gunicorn workers and the PostgreSQL backends spent per
   delivery (steadier than the rate on a machine doing other work);
   while the workers process them one worker is killed (SIGKILL) mid-batch
   and a fresh one started; then checks that every delivery made exactly one
   order and no message is lost, failed or left waiting.

Prints JSON. Usage (DATABASE_URL=postgres://…):

    python tests/bench/bench_intake.py [--orders 1500] [--webhooks 5000]
        [--clients 16] [--workers 2] [--threads 4] [--database NAME]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchsupport import ROOT, bench_django, emit, peak_rss_mb  # noqa: E402
from httpload import (  # noqa: E402
    cpu_per_request,
    cpu_seconds,
    gunicorn_serve,
    load,
    production_env,
    server_cpu,
)

SECRET = "bench-shop-secret"
PYTHON = sys.executable


def seed() -> str:
    from connections.services.api_keys import channel_api_key_create
    from inventory.models import Location
    from inventory.services import stock_receive
    from orders.models import Channel
    from tests.factories import ProductFactory

    location = Location.objects.create(code="MAIN", name="Main", country="US")
    for n in range(3):
        product = ProductFactory(sku=f"BENCH-{n}", name=f"Bench {n}")
        stock_receive(
            product=product, location=location, quantity=10_000_000, actor=None
        )
    api = Channel.objects.create(code="api", name="API shop")
    Channel.objects.create(
        code="shopify",
        name="Shopify",
        platform=Channel.Platform.SHOPIFY,
        inbound_secret=SECRET,
    )
    return channel_api_key_create(channel=api, name="bench")[1]


def api_body(n: int) -> bytes:
    return json.dumps(
        {
            "external_id": f"API-{n}",
            "currency": "USD",
            "customer": {"email": f"c{n % 500}@example.com", "name": "Bench"},
            "shipping_address": {
                "name": "Ann Lee",
                "address1": "1 Main St",
                "city": "Austin",
                "region": "TX",
                "postcode": "78701",
                "country": "US",
            },
            "lines": [
                {"sku": f"BENCH-{i}", "quantity": 1 + i, "unit_price": "9.90"}
                for i in range(3)
            ],
        }
    ).encode()


def shopify_body(n: int) -> bytes:
    return json.dumps(
        {
            "id": 5_000_000 + n,
            "name": f"#{10000 + n}",
            "email": f"s{n % 500}@example.com",
            "created_at": "2026-11-20T14:30:00-05:00",
            "currency": "USD",
            "total_tax": "1.00",
            "cancelled_at": None,
            "customer": {"first_name": "Jon", "last_name": "Snow"},
            "shipping_address": {
                "name": "Jon Snow",
                "address1": "123 Congress Ave",
                "city": "Austin",
                "province_code": "TX",
                "zip": "78701",
                "country_code": "US",
            },
            "shipping_lines": [{"title": "Standard", "price": "5.00"}],
            "line_items": [
                {"sku": f"BENCH-{i}", "quantity": 1, "price": "10.00"} for i in range(3)
            ],
        }
    ).encode()


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "worker"],
        cwd=ROOT,
        env={"OMS_WORKER_POLL_SECONDS": "0.05", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (gthread); 1 = sync workers",
    )
    parser.add_argument("--database", default="oms_bench_intake")
    options = parser.parse_args()

    bench_django(options.database)
    key = seed()
    env = production_env(OMS_WORKER_HEARTBEAT_SECONDS="1", OMS_WORKER_STALE_SECONDS="5")
    server, port = gunicorn_serve(root=ROOT, env=env, threads=options.threads)
    workers: list[subprocess.Popen] = []
    try:
        from django.db import connection
        from django.db.models import Count

        from connections.models import InboundMessage
        from orders.models import Order

        auth = {"Authorization": f"Bearer {key}"}
        # The workers allocate the API's orders as they come (they share the
        # cores with the web processes, as in production).
        workers = [start_worker(env) for _ in range(options.workers)]
        # Warm both gunicorn workers up (imports, connections).
        load([("/api/v1/orders", api_body(-n), auth) for n in range(1, 21)], 4, port)

        api_orders = Order.objects.filter(channel__code="api")
        api_waiting = InboundMessage.objects.filter(source="api", status="received")
        while api_waiting.exists() or api_orders.filter(status="pending").exists():
            time.sleep(0.05)  # the warm-up's orders written and allocated
        cpu_before = server_cpu(server.pid)
        workers_before = sum(cpu_seconds(worker.pid) for worker in workers)
        api = load(
            [("/api/v1/orders", api_body(n), auth) for n in range(options.orders)],
            options.clients,
            port,
        )
        api.update(cpu_per_request(cpu_before, server_cpu(server.pid), options.orders))
        # The answer holds the order as taken in (pending); the workers write
        # the waiting orders in batches and reserve their stock.
        started = time.perf_counter()
        while api_waiting.exists() or api_orders.filter(status="pending").exists():
            if time.perf_counter() - started > 300:
                break
            time.sleep(0.05)
        api["allocated_seconds_after_last_answer"] = round(
            time.perf_counter() - started, 2
        )
        # The workers' own CPU (their PostgreSQL backends count in
        # postgres_cpu_ms_per_request above while the load runs).
        api["worker_cpu_ms_per_order"] = round(
            (sum(cpu_seconds(worker.pid) for worker in workers) - workers_before)
            / options.orders
            * 1000,
            3,
        )
        api["orders_written"] = (
            api_orders.filter(external_id__startswith="API-").count()
            - api_orders.filter(external_id__startswith="API--").count()
        )
        api["orders_by_status"] = dict(
            api_orders.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for worker in workers:
            worker.terminate()
            worker.wait()
        workers = []

        deliveries = []
        for n in range(options.webhooks):
            body = shopify_body(n)
            signature = base64.b64encode(
                hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
            ).decode()
            headers = {
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Webhook-Id": f"wh-{n}",
            }
            deliveries.append(
                ("/api/channels/shopify/webhooks/shopify/", body, headers)
            )
            if n % 10 == 0:  # Shopify retries: the same delivery again
                deliveries.append(deliveries[-1])
        cpu_before = server_cpu(server.pid)
        webhooks = load(deliveries, options.clients, port)
        webhooks.update(
            cpu_per_request(cpu_before, server_cpu(server.pid), len(deliveries))
        )

        shop = InboundMessage.objects.filter(source="shopify")
        started = time.perf_counter()
        workers = [start_worker(env) for _ in range(options.workers)]
        killed_at = None
        while True:
            waiting = shop.filter(status="received").count()
            if killed_at is None and waiting < options.webhooks * 0.6:
                # Mid-batch: one worker dies holding a task; a new one starts.
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                killed_at = options.webhooks - waiting
                workers[0] = start_worker(env)
            if waiting == 0:
                break
            if time.perf_counter() - started > 600:
                break
            time.sleep(0.25)
        processing_seconds = time.perf_counter() - started
        counts = dict(
            shop.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        orders = Order.objects.filter(channel__code="shopify").count()
        distinct = (
            Order.objects.filter(channel__code="shopify")
            .values("external_id")
            .distinct()
            .count()
        )
        connection.close()
    finally:
        for worker in workers:
            worker.terminate()
        server.terminate()
        for process in [*workers, server]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    emit(
        {
            "benchmark": "intake",
            "cpus": os.cpu_count(),
            "gunicorn_workers": 2,
            "gunicorn_threads": options.threads,
            "clients": options.clients,
            "api_orders_3_lines": api,
            "webhooks_acknowledged": webhooks,
            "webhook_processing": {
                "deliveries_unique": options.webhooks,
                "deliveries_sent": len(deliveries),
                "workers": options.workers,
                "worker_killed_after_processed": killed_at,
                "seconds": round(processing_seconds, 1),
                "per_second": round(options.webhooks / processing_seconds, 1),
                "messages_by_status": counts,
                "orders": orders,
                "orders_distinct": distinct,
                "lost_or_duplicated": orders != options.webhooks
                or distinct != orders
                or counts.get("processed", 0) != options.webhooks,
            },
            "peak_rss_mb": peak_rss_mb(),
        }
    )


if __name__ == "__main__":
    main()
