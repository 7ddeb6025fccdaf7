"""gunicorn's settings for the OMS, read by `gunicorn oms.wsgi` started in this
directory (production, tests/test_hardening.py and tests/bench/bench_intake.py
alike). Options given on the command line win: `--workers 4 --threads 8`.

Each worker process runs `threads` threads (gthread): a request waiting for
PostgreSQL or a shop's slow upload holds one thread, not the process, and
kept-alive connections wait in the worker's poller without a thread.
"""

import gc
import os

wsgi_app = "oms.wsgi:application"
worker_class = "gthread"
# Per worker; size workers to the cores (WEB_CONCURRENCY or --workers).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Shops, carriers and proxies send many requests in a row: keep their
# connections open this many seconds between requests (gunicorn's default
# is 2).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))


def post_worker_init(worker) -> None:
    """Load the URL configuration (the views and what they import), then move
    everything loaded so far out of the garbage collector's sight: Django and
    the apps are some 170,000 objects that live as long as the process, and a
    full collection walking them all held every request in the worker for
    over 100 ms. Collections now walk only what requests make."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view)
    gc.collect()
    gc.freeze()


def child_exit(server, worker) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set (docs/operations.md, "Metrics"), a
    worker that exits leaves its live gauges behind: mark them dead."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
