"""`manage.py worker`: run background workers (Procrastinate's, with the
recovery of the work of dead workers: see core.worker)."""

import asyncio
import os
import socket

from django.core.management.base import BaseCommand

from core.tasks import app
from core.worker import workers_run


class Command(BaseCommand):
    help = (
        "Run a background worker for the PostgreSQL task queue (Procrastinate), "
        "with heartbeats and recovery of work whose worker died (see core.worker)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--name",
            default="",
            help="A name for this worker in logs (default: host and process id).",
        )
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            help="Take only this queue (repeat for more; default: every queue).",
        )

    def handle(self, *args, name: str = "", queues=None, **options) -> None:
        name = name or f"{socket.gethostname()}-{os.getpid()}"
        with app.replace_connector(app.connector.get_worker_connector()):
            asyncio.run(workers_run(name=name, queues=queues or None))
