"""Benchmark: the one outbox, recording in the caller's transaction and sending.

A generic channel with a webhook URL points at a local HTTP server (loopback)
that answers 200. Measured in one run:

1. `order.created` recorded for N orders in one transaction (the import's and
   the API's path: set-based, one INSERT per 1,000 messages);
2. N shipment-style signed webhooks recorded one by one through
   `outbox_record` (what every Ship, tracking scan and delivery adds to its
   transaction: one INSERT; a task row per message at commit, as before);
3. every message sent by the sending task (claim, signed POST, attempt row,
   outcome), chunk after chunk as one worker runs them, with the server's
   count of requests checked against the messages.

No raw SQL is timed here: the outbox has none. Prints JSON.

    python tests/bench/bench_outbox.py [--messages 2000]
"""

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit, peak_rss_mb  # noqa: E402


class Receiver:
    """A channel's webhook endpoint on 127.0.0.1 that answers 200 and counts."""

    def __init__(self):
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def run(count: int) -> dict:
    from django.db import connection, transaction
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from connections.models import OutboundMessage
    from connections.outbox.orders import outbox_orders_event
    from connections.outbox.sending import outbox_send_many_task
    from connections.outbox.services import SEND_CHUNK, outbox_record
    from orders.models import Channel, Order
    from orders.services.channels import channel_secret_generate
    from tests.bench.bench_email import build_orders

    order_ids = build_orders(count, prefix="OUTBOX")
    result: dict = {"messages": count}
    committing: list[float] = []
    with Receiver() as receiver:
        Channel.objects.filter(code="bench").update(
            webhook_url=receiver.url, webhook_secret=channel_secret_generate()
        )
        channel = Channel.objects.get(code="bench")

        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            recorded = outbox_orders_event(event="order.created", order_ids=order_ids)
        seconds = time.perf_counter() - started
        result["record_orders_created"] = {
            "recorded": recorded,
            "seconds": round(seconds, 3),
            "per_second": round(recorded / seconds),
            "queries": len(queries),
        }

        orders = list(Order.objects.filter(pk__in=order_ids).only("pk", "number"))
        payload = {"event": "shipment.shipped", "order": {}, "lines": []}
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            transaction.on_commit(lambda: committing.append(time.perf_counter()))
            for order in orders:
                outbox_record(
                    channel=channel,
                    kind="shipment.shipped",
                    key=f"{order.number}:bench",
                    payload={**payload, "order": {"number": order.number}},
                    order=order,
                    platform="generic",
                    stamped=False,
                    unique_key=True,
                )
        seconds = time.perf_counter() - started
        # In the transaction: the look-up and the INSERT; at commit: one task
        # row per message (as the old webhook path enqueued one per webhook).
        in_transaction = committing[0] - started
        result["record_one_by_one"] = {
            "recorded": len(orders),
            "seconds": round(seconds, 3),
            "in_transaction_ms_per_message": round(
                in_transaction * 1000 / len(orders), 3
            ),
            "enqueue_at_commit_ms_per_message": round(
                (seconds - in_transaction) * 1000 / len(orders), 3
            ),
            "queries_per_message": round(len(queries) / len(orders), 2),
        }

        # As one worker runs the queued sending tasks, chunk after chunk.
        pending = list(
            OutboundMessage.objects.filter(status="pending")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        started = time.perf_counter()
        sent = 0
        for chunk_start in range(0, len(pending), SEND_CHUNK):
            chunk = pending[chunk_start : chunk_start + SEND_CHUNK]
            sent += outbox_send_many_task(message_ids=chunk)
        seconds = time.perf_counter() - started
        statuses = dict(
            OutboundMessage.objects.values_list("status")
            .annotate(count=Count("pk"))
            .order_by()
        )
        result["send"] = {
            "sent": sent,
            "received": receiver.count,
            "seconds": round(seconds, 3),
            "per_second": round(sent / seconds) if seconds else None,
            "exactly_once": receiver.count == 2 * count,
            "statuses": statuses,
        }
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database", default="oms_bench_outbox")
    options = parser.parse_args()
    bench_django(options.database)
    emit(run(options.messages))


if __name__ == "__main__":
    main()
