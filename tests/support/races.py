"""Real concurrency for the tests: jobs in OS processes, let go at once."""

import multiprocessing
import sys

from django.db import connections

BARRIER_SECONDS = 60


def fork_safely() -> multiprocessing.context.BaseContext:
    """Close this process's connections before forking and check they are
    gone: a child that inherited an open one would share its socket with its
    siblings (answers mixed, "server closed the connection")."""
    connections.close_all()
    still_open = [
        conn.alias
        for conn in connections.all(initialized_only=True)
        if conn.connection is not None
    ]
    assert not still_open, f"connections still open before forking: {still_open}"
    # Inherit no unwritten output to write a second time when they end (a
    # pytest-xdist worker talks to its controller over its own streams).
    sys.stdout.flush()
    sys.stderr.flush()
    return multiprocessing.get_context("fork")


def reap(processes, timeout: float = 30) -> None:
    """Wait for the children; kill any still running, so none is left holding
    a transaction that the test's clean-up would wait on for ever."""
    for process in processes:
        process.join(timeout=timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout=10)


def race(job, arguments, timeout: float = 60) -> list:
    """Run `job(barrier, *args)` in one process per argument tuple, all let
    go at the same moment; return their answers (an exception as text)."""
    context = fork_safely()
    barrier = context.Barrier(len(arguments), timeout=BARRIER_SECONDS)
    answers = context.Queue()

    def run(each):
        try:
            answers.put(job(barrier, *each))
        except Exception as error:  # reported to the test, not lost in a child
            answers.put(f"error: {error!r}")
        finally:
            connections.close_all()

    processes = [context.Process(target=run, args=(each,)) for each in arguments]
    for process in processes:
        process.start()
    try:
        return [answers.get(timeout=timeout) for _ in processes]
    finally:
        reap(processes)
