"""The settings of background work: Procrastinate's queue, the modules its
workers load, and the workers' heartbeats, claims and polling, imported by
oms/settings.py."""

import os

from django.core.exceptions import ImproperlyConfigured

# Imported for its reading of `.env` before the variables below.
import oms.settings_env  # noqa: F401

# Background work: Procrastinate's PostgreSQL queue (core/tasks.py), run by
# `manage.py worker` (`make demo` starts one beside the web server; run any
# number, on any number of machines). OMS_TASKS_BACKEND=immediate runs each
# task in the process that defers it: for one-off scripts (and the tests'
# default, oms/test_settings.py).
OMS_TASKS_BACKEND = os.environ.get("OMS_TASKS_BACKEND", "database")
if OMS_TASKS_BACKEND not in {"database", "immediate"}:
    raise ImproperlyConfigured(
        f"OMS_TASKS_BACKEND must be 'database' or 'immediate', not {OMS_TASKS_BACKEND!r}."
    )
# Procrastinate's Django app loads the tasks of these modules in workers (each
# task lives beside the function it runs; there is no tasks.py hub).
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
PROCRASTINATE_IMPORT_PATHS = [
    "core.worker",
    "orders.services.allocation",
    "orders.importing.jobs",
    "orders.importing.confirm",
    "fulfillment.services.packstation.dispatch",
    "fulfillment.services.printing",
    "fulfillment.services.waves",
    "fulfillment.postage.buying",
    "fulfillment.postage.rates",
    "fulfillment.postage.voids",
    "fulfillment.postage.scan_forms",
    "returns.services.labels",
    "connections.outbox.sending",
    "connections.services.checks",
    "connections.inbox.replay",
    "connections.inbox.draining",
    "connections.inbox.allocating",
    "connections.inbox.processing",
    "oms.tallies",
    "oms.dashboard",
    "oms.retention",
]
# Deferring goes through Django's connection (in the caller's transaction), or
# runs the task at once in immediate mode (core.tasks).
PROCRASTINATE_ON_APP_READY = "core.tasks.app_ready"
# Sync task middleware run around every job, by the worker and in immediate
# mode (core.tasks.task_middleware): observability (request id, timings,
# Sentry). Not read from the environment.
OMS_TASK_MIDDLEWARE = ["oms.health.queue.job_observe"]
# Workers beat every OMS_WORKER_HEARTBEAT_SECONDS; one silent for
# OMS_WORKER_STALE_SECONDS is dead, and the periodic recovery (core/worker.py,
# every heartbeat interval) queues its jobs again (at most OMS_TASK_MAX_CLAIMS
# claims in all) or, for import and print jobs, fails them with a Retry.
# Worst time to recovery: stale limit + heartbeat + recovery interval + 0.5 s.
OMS_WORKER_HEARTBEAT_SECONDS = float(
    os.environ.get("OMS_WORKER_HEARTBEAT_SECONDS", "10")
)
OMS_WORKER_STALE_SECONDS = float(os.environ.get("OMS_WORKER_STALE_SECONDS", "60"))
OMS_TASK_MAX_CLAIMS = int(os.environ.get("OMS_TASK_MAX_CLAIMS", "3"))
# Jobs one worker process runs at once (each in its own thread), and how often
# it looks for jobs when no notification arrived (seconds).
OMS_WORKER_CONCURRENCY = int(os.environ.get("OMS_WORKER_CONCURRENCY", "1"))
OMS_WORKER_POLL_SECONDS = float(os.environ.get("OMS_WORKER_POLL_SECONDS", "5"))
# A job run in-process (a small import in the web request, the immediate
# backend) with no sign of life for this long is failed: its process died.
OMS_JOB_INPROCESS_STALE_SECONDS = float(
    os.environ.get("OMS_JOB_INPROCESS_STALE_SECONDS", "600")
)
