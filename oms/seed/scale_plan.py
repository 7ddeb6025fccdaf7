"""The plan of a `seed_scale` load: a graph of tasks (load a chunk, vacuum a
table, build an index, attach constraints and analyze, count the tallies,
compute the dashboard figures) run by a few connections at once, the longest
chains first."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.db import connection

from oms import sql
from oms.dashboard import dashboard_figures_refresh_now
from oms.seed.scale_indexes import IndexRebuild
from oms.tallies import tallies_rebuild

CHUNK = 250_000  # orders per statement

# Relative cost of each step (a chunk of 250,000 orders or customers; an
# index per million rows), measured: only used to order the work, the longest
# chain first.
LOAD_COST = {"orders": 1.75, "lines": 4.0, "events": 1.0, "shipments": 1.9}
CUSTOMER_COST = 0.65
ROWS_PER_ORDER = {"orders": 1, "lines": 2.5, "events": 1, "shipments": 0.95}


@dataclass
class LoadTask:
    """One statement (or a few, or a Python function) run by a worker once
    the tasks it comes `after` are done."""

    name: str
    kind: str  # load, vacuum, index, finish, tallies, figures
    table: str
    sql: list[str] | Callable[[], None]
    params: dict | None = None
    cost: float = 1.0
    after: tuple[str, ...] = ()
    rank: float = 0.0  # its cost plus the longest chain of work waiting on it
    began: float = 0.0
    ended: float = 0.0
    rows: int = 0


def load_plan(
    *, statements, params, orders, customers, models, rebuild
) -> list[LoadTask]:
    """The load as a graph of tasks. Per table: its chunks one after the
    other (one connection writes to a table at a time), a VACUUM (hint bits
    and visibility map set while the pages are written anyway, before any
    index reads them), each secondary index on its own, then the unique
    constraints attached to their indexes and ANALYZE. The tallies are counted
    once orders and shipments are in."""
    tasks: list[LoadTask] = []
    first_order, first_customer = params["first_order"], params["first_customer"]
    sizes = {table: orders * share for table, share in ROWS_PER_ORDER.items()}
    sizes["customers"] = customers
    for table in models:
        if table == "customers":
            start, count, cost = first_customer, customers, CUSTOMER_COST
        else:
            start, count, cost = first_order, orders, LOAD_COST[table]
        previous: tuple[str, ...] = ()
        for low in range(start, start + count, CHUNK):
            high = min(low + CHUNK, start + count) - 1
            name = f"load {table} {low - start + 1}-{high - start + 1}"
            tasks.append(
                LoadTask(
                    name,
                    "load",
                    table,
                    [statements[table]],
                    {**params, "low": low, "high": high},
                    cost=cost * (high - low + 1) / 250_000,
                    after=previous,
                )
            )
            previous = (name,)
        db_table = models[table]._meta.db_table
        tasks.append(
            LoadTask(
                f"vacuum {table}",
                "vacuum",
                table,
                [sql.table_vacuum(db_table)],
                cost=0.1 * sizes[table] / 250_000,
                after=previous,
            )
        )
    indexes: dict[str, list[str]] = {table: [] for table in models}
    attach: dict[str, list[str]] = {table: [] for table in models}
    for item in rebuild:
        table = item.key
        name = f"index {item.index}"
        tasks.append(
            LoadTask(
                name,
                "index",
                table,
                [item.create],
                cost=sizes[table] / 1e6 * item.weight,
                after=(f"vacuum {table}",),
            )
        )
        indexes[table].append(name)
        if item.attach:
            attach[table].append(item.attach)
    tasks.append(
        LoadTask(
            "tallies",
            "tallies",
            "",
            in_django(tallies_rebuild),
            # Early: ANALYZE and the unique constraints of orders and
            # shipments wait for it, the dashboard figures for them.
            cost=1.5 * orders / 1e6,
            after=("vacuum orders", "vacuum shipments"),
        )
    )
    # The history figures once the tables have their indexes and statistics.
    tasks.append(
        LoadTask(
            "figures",
            "figures",
            "",
            in_django(dashboard_figures_refresh_now),
            cost=0.7 * orders / 1e6,
            after=("finish orders", "finish shipments"),
        )
    )
    for table, model in models.items():
        # The tallies lock their tables in SHARE mode, as CREATE INDEX does;
        # ALTER TABLE and ANALYZE wait for both.
        waits = ("tallies",) if table in ("orders", "shipments") else ()
        tasks.append(
            LoadTask(
                f"finish {table}",
                "finish",
                table,
                [*attach[table], sql.table_analyze(model._meta.db_table)],
                cost=0.2,
                after=(f"vacuum {table}", *indexes[table], *waits),
            )
        )
    tasks_rank(tasks)
    return tasks


def in_django(function: Callable[[], object]) -> Callable[[], None]:
    """The function, run on the worker thread's own Django connection."""

    def run() -> None:
        try:
            function()
        finally:
            connection.close()

    return run


def tasks_rank(tasks: list[LoadTask]) -> None:
    """Each task's rank: its cost plus the heaviest chain that waits on it
    (the classic list-scheduling priority: long chains start first)."""
    waiting: dict[str, list[LoadTask]] = {task.name: [] for task in tasks}
    for task in tasks:
        for name in task.after:
            waiting[name].append(task)
    ranks: dict[str, float] = {}

    def rank(task: LoadTask) -> float:
        if task.name not in ranks:
            ranks[task.name] = task.cost + max(
                (rank(other) for other in waiting[task.name]), default=0.0
            )
        return ranks[task.name]

    for task in reversed(tasks):  # chains are short: the recursion stays shallow
        task.rank = rank(task)


def tasks_unfinished(
    rebuild: list[IndexRebuild], done: dict[str, LoadTask]
) -> list[LoadTask]:
    """After a failure: what is left to give the tables their indexes and
    unique constraints back."""
    tasks = []
    for item in rebuild:
        finished = f"finish {item.key}" in done
        sql = [] if f"index {item.index}" in done else [item.create]
        if item.attach and not finished:
            sql.append(item.attach)
        if sql:
            tasks.append(LoadTask(f"restore {item.index}", "index", item.key, sql))
    return tasks


def load_report(done: dict[str, LoadTask], *, say, started: float) -> None:
    """Per table: when its rows were in, its indexes built, and the busy time
    of each phase (seconds of a connection's work)."""
    tables: dict[str, dict[str, list[LoadTask]]] = {}
    for task in done.values():
        tables.setdefault(task.table or "-", {}).setdefault(task.kind, []).append(task)
    for table, kinds in tables.items():
        parts = []
        for kind in ("load", "vacuum", "index", "tallies", "finish", "figures"):
            ran = kinds.get(kind)
            if not ran:
                continue
            busy = sum(task.ended - task.began for task in ran)
            end = max(task.ended for task in ran) - started
            label = f"{len(ran)} {kind}" if kind == "index" else kind
            parts.append(f"{label} {busy:.1f}s (until {end:.0f}s)")
        say(f"  {table}: " + ", ".join(parts))
    busy = sum(task.ended - task.began for task in done.values())
    if done:
        span = max(task.ended for task in done.values()) - min(
            task.began for task in done.values()
        )
        say(f"  {busy:.0f}s of work in {span:.0f}s")


def tasks_run(
    tasks: list[LoadTask],
    *,
    workers: int,
    say,
    started: float,
    done: dict[str, LoadTask],
) -> None:
    """Run the tasks on `workers` connections, each as soon as the tasks it
    waits for are done, the highest rank first; stop at the first failure and
    raise it. Finished tasks go into `done`."""
    pending = {task.name: task for task in tasks if task.name not in done}
    if not pending:
        return
    names = {task.name for task in tasks} | set(done)
    for task in pending.values():  # a step that was not planned is not waited for
        task.after = tuple(name for name in task.after if name in names)
    loads = sum(1 for task in pending.values() if task.kind == "load")
    errors: list[BaseException] = []
    state = threading.Condition()
    running: set[str] = set()

    def ready() -> list[LoadTask]:
        return [
            task
            for task in pending.values()
            if all(name in done for name in task.after)
        ]

    def take() -> LoadTask | None:
        with state:
            while not errors and pending:
                candidates = ready()
                if candidates:
                    task = max(candidates, key=lambda t: t.rank)
                    del pending[task.name]
                    running.add(task.name)
                    return task
                if not running:  # pragma: no cover - a cycle in the plan
                    errors.append(RuntimeError(f"unreachable: {sorted(pending)}"))
                    state.notify_all()
                    return None
                state.wait()
            return None

    def execute(conn: psycopg.Connection, task: LoadTask) -> None:
        if callable(task.sql):
            task.sql()
            return
        for statement in task.sql:
            cursor = conn.execute(statement, task.params, prepare=False)
            task.rows += max(cursor.rowcount, 0)

    def work() -> None:
        try:
            conn = sql.seed_connect()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            with state:
                errors.append(error)
                state.notify_all()
            return
        with conn:
            while (task := take()) is not None:
                task.began = time.perf_counter()
                try:
                    execute(conn, task)
                except BaseException as error:  # noqa: BLE001 - re-raised below
                    with state:
                        errors.append(RuntimeError(f"{task.name}: {error}"))
                        running.discard(task.name)
                        state.notify_all()
                    return
                task.ended = time.perf_counter()
                with state:
                    running.discard(task.name)
                    done[task.name] = task
                    state.notify_all()
                    loaded = sum(1 for t in done.values() if t.kind == "load")
                if task.kind == "load" and loads and loaded % max(1, loads // 10) == 0:
                    say(
                        f"  {loaded}/{loads} chunks loaded ({task.ended - started:.0f}s)"
                    )
                elif task.kind != "load":
                    say(
                        f"  {task.name} ({task.ended - task.began:.1f}s, at {task.ended - started:.0f}s)"
                    )

    threads = [
        threading.Thread(target=work, daemon=True)
        for _ in range(max(1, min(workers, len(pending))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
