"""Readiness: what a load balancer (and Prometheus) needs to know, read in a
handful of indexed queries.

`readiness()` returns every check with its status and figure:

- "ok": fine;
- "warning": someone should look (failed inbox or outbox messages, a
  destination paused because it does not answer, a worker that died), but this process serves requests: readiness holds;
- "fail": the database does not answer, or a hard threshold
  (`OMS_HEALTH_*` settings) is crossed: `/health/ready` answers 503.

What is read of the background task engine comes from `oms.health.queue`
alone; inbox and outbox figures from `connections.selectors`, as the
dashboard reads them.
"""

import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError

from connections.selectors import (
    inbound_failed,
    inbound_oldest_waiting_age,
    inbound_waiting,
    outbound_destinations_paused,
    outbound_failed,
    outbound_most_overdue_age,
    outbound_pending,
)
from oms.dashboard import querysets_count
from oms.health import queue

OK, WARNING, FAIL = "ok", "warning", "fail"
# No health query may hold a connection long: a statement over this is
# cancelled and the check fails.
STATEMENT_TIMEOUT_MS = 2000


@dataclass
class Check:
    status: str
    value: float | int | None = None
    # The figure above which (below which, for workers) the check fails or warns.
    threshold: float | int | None = None
    detail: str = ""


def _over(value: float, limit: float, level: str = FAIL) -> str:
    return level if limit and value > limit else OK


def _database() -> Check:
    started = time.perf_counter()
    try:
        connection.ensure_connection()
        if not connection.is_usable():
            connection.close()
            return Check(FAIL, detail="connection not usable")
    except DatabaseError as error:
        return Check(FAIL, detail=type(error).__name__)
    return Check(OK, value=round((time.perf_counter() - started) * 1000, 2))


# Dead workers named in the check's detail at most (the count says the rest).
DEAD_NAMED = 10


def _dead_detail(dead_ids: tuple[str, ...]) -> str:
    """Say what counts as dead and, when some are, which (their Procrastinate
    ids, as each `manage.py worker` logs them when it starts)."""
    detail = "silent past the stale limit within the last hour"
    if not dead_ids:
        return detail
    named = ", ".join(dead_ids[:DEAD_NAMED])
    more = (
        f" and {len(dead_ids) - DEAD_NAMED} more" if len(dead_ids) > DEAD_NAMED else ""
    )
    return f"{detail}: workers {named}{more}"


def _figures() -> dict[str, Check]:
    counts = querysets_count(
        {
            "inbox_waiting": inbound_waiting(),
            "inbox_failed": inbound_failed(),
            "outbox_pending": outbound_pending(),
            "outbox_failed": outbound_failed(),
            "outbox_destinations_paused": outbound_destinations_paused(),
        }
    )
    depth = queue.queue_depth()
    waited = queue.oldest_waiting_age()
    workers = queue.worker_heartbeats()
    inbox_age = inbound_oldest_waiting_age()
    outbox_age = outbound_most_overdue_age()

    minimum = settings.OMS_HEALTH_WORKERS_MIN if queue.workers_expected() else 0
    depth_max = settings.OMS_HEALTH_QUEUE_DEPTH_MAX
    wait_max = settings.OMS_HEALTH_QUEUE_WAIT_MAX_SECONDS
    inbox_max = settings.OMS_HEALTH_INBOX_WAIT_MAX_SECONDS
    outbox_max = settings.OMS_HEALTH_OUTBOX_OVERDUE_MAX_SECONDS
    return {
        "queue_depth": Check(_over(depth, depth_max), depth, depth_max),
        "queue_oldest_wait_seconds": Check(
            _over(waited, wait_max), round(waited, 1), wait_max
        ),
        "workers_alive": Check(
            FAIL if workers.alive < minimum else OK, workers.alive, minimum
        ),
        "workers_dead": Check(
            WARNING if workers.dead else OK,
            workers.dead,
            0,
            detail=_dead_detail(workers.dead_ids),
        ),
        "inbox_waiting": Check(OK, counts["inbox_waiting"]),
        "inbox_oldest_wait_seconds": Check(
            _over(inbox_age, inbox_max), round(inbox_age, 1), inbox_max
        ),
        "inbox_failed": Check(
            WARNING if counts["inbox_failed"] else OK, counts["inbox_failed"], 0
        ),
        "outbox_pending": Check(OK, counts["outbox_pending"]),
        "outbox_overdue_seconds": Check(
            _over(outbox_age, outbox_max, WARNING), round(outbox_age, 1), outbox_max
        ),
        "outbox_failed": Check(
            WARNING if counts["outbox_failed"] else OK, counts["outbox_failed"], 0
        ),
        "outbox_destinations_paused": Check(
            WARNING if counts["outbox_destinations_paused"] else OK,
            counts["outbox_destinations_paused"],
            0,
            detail="the mail server or a channel did not answer; its messages wait",
        ),
    }


def readiness() -> dict:
    """Every check and the overall status ("ok", "warning" or "fail")."""
    checks = {"database": _database()}
    if checks["database"].status == OK:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SET LOCAL statement_timeout = %s", [STATEMENT_TIMEOUT_MS]
                    )
                checks |= _figures()
        except DatabaseError as error:
            checks["database"] = Check(FAIL, detail=type(error).__name__)
    statuses = {check.status for check in checks.values()}
    overall = FAIL if FAIL in statuses else WARNING if WARNING in statuses else OK
    return {
        "status": overall,
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
