"""Benchmark: the background-task queue (Procrastinate on PostgreSQL) for
docs/scale.md — how many jobs a second it takes in and hands out, and what a
job costs on disk.

Three figures on a fresh database: deferring N jobs one per transaction
from one process, then from 4 processes at once (as web processes do), and
W `manage.py worker` processes running them (each job a near no-op:
`backorders_reallocate_task` with no products). Prints JSON.

    python tests/bench/bench_queue.py [--jobs 5000] [--workers 2]
"""

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.benchsupport import bench_django, emit  # noqa: E402

DATABASE = "oms_bench_queue"


def _defer(count: int, start=None, seconds=None) -> None:
    """Defer `count` jobs, each in its own transaction; in a child process,
    wait for `start` once Django is up and put the seconds taken in
    `seconds`."""
    bench_django(DATABASE, keep=True)
    from django.conf import settings
    from django.db import transaction

    from orders.services.allocation import backorders_reallocate_task

    settings.OMS_TASKS_BACKEND = "database"
    if start is not None:
        start.wait()
    began = time.perf_counter()
    for _ in range(count):
        with transaction.atomic():
            backorders_reallocate_task.defer(product_ids=[])
    if seconds is not None:
        seconds.put(time.perf_counter() - began)


def _waiting() -> int:
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    bench_django(DATABASE)
    import os

    os.environ["OMS_TASKS_BACKEND"] = "database"
    from django.conf import settings
    from django.db import connection

    settings.OMS_TASKS_BACKEND = "database"
    result: dict = {"benchmark": "queue", "jobs": options.jobs}

    started = time.perf_counter()
    _defer(options.jobs)
    seconds = time.perf_counter() - started
    result["defer_one_process_per_second"] = round(options.jobs / seconds, 1)

    context = multiprocessing.get_context("spawn")
    start, took = context.Event(), context.Queue()
    children = [
        context.Process(target=_defer, args=(options.jobs // 4, start, took))
        for _ in range(4)
    ]
    for child in children:
        child.start()
    time.sleep(10)  # Django up in every child
    start.set()
    slowest = max(took.get(timeout=600) for _ in children)
    for child in children:
        child.join()
    result["defer_four_processes_per_second"] = round(options.jobs / slowest, 1)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('procrastinate_jobs')"
            " + pg_total_relation_size('procrastinate_events')"
        )
        (size,) = cursor.fetchone()
    waiting = _waiting()
    result["bytes_per_waiting_job"] = round(size / max(waiting, 1))

    from tests.faults.processes import WorkerProcess

    workers = [
        WorkerProcess(f"bench-{n}", OMS_WORKER_POLL_SECONDS="0.1")
        for n in range(options.workers)
    ]
    try:
        # Timed from the first job done: worker start-up is not the queue's.
        while _waiting() == waiting:
            time.sleep(0.05)
        started, first = time.perf_counter(), _waiting()
        while left := _waiting():
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.stop()
    result["workers"] = options.workers
    result["run_per_second"] = round((first - left) / seconds, 1)
    emit(result)


if __name__ == "__main__":
    main()
