"""Many EasyPost calls at once, bounded, never under a lock.

`run_bounded(items, call, record, workers)` runs `call(item)` (network, no
database) in at most `workers` threads and `record(item, result, error)`
(a short transaction of its own) for each. Outside a transaction the
threads record too, each on its own connection, closed when the thread is
done; inside one (a test's transaction) the calling thread records as
results arrive, on the connection that holds it.
"""

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, connections

from core.exceptions import DomainError

Item = TypeVar("Item")


def concurrency() -> int:
    """How many EasyPost calls may be in flight at once (OMS_POSTAGE_CONCURRENCY)."""
    return max(1, int(getattr(settings, "OMS_POSTAGE_CONCURRENCY", 16)))


def run_bounded(
    items: Sequence[Item],
    call: Callable[[Item], Any],
    record: Callable[[Item, Any, DomainError | None], None],
    workers: int,
) -> None:
    if not items:
        return
    threaded_records = not connection.in_atomic_block
    todo: queue.Queue = queue.Queue()
    for item in items:
        todo.put(item)
    done: queue.Queue = queue.Queue()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    result, error = call(item), None
                except DomainError as problem:
                    result, error = None, problem
                if threaded_records:
                    record(item, result, error)
                else:
                    done.put((item, result, error))
        except BaseException as unexpected:  # noqa: BLE001 - re-raised below
            failures.append(unexpected)
        finally:
            if threaded_records:
                connections.close_all()
            done.put(None)

    threads = [
        threading.Thread(target=work, daemon=True)
        for _ in range(max(1, min(workers, len(items))))
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    while running:
        message = done.get()
        if message is None:
            running -= 1
            continue
        record(*message)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
