"""Real concurrency for the tests: jobs in OS processes, let go at once."""

import multiprocessing
import sys

from django.db import connections


def race(job, arguments, timeout: float = 60) -> list:
    """Run `job(barrier, *args)` in one process per argument tuple, all let
    go at the same moment; return their answers (an exception as text)."""
    # Children open their own connections, never share the parent's; and
    # inherit no unwritten output to write a second time when they end (a
    # pytest-xdist worker talks to its controller over its own streams).
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(arguments))
    answers = context.Queue()

    def run(each):
        try:
            answers.put(job(barrier, *each))
        except Exception as error:  # reported to the test, not lost in a child
            answers.put(f"error: {error!r}")

    processes = [context.Process(target=run, args=(each,)) for each in arguments]
    for process in processes:
        process.start()
    results = [answers.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return results
