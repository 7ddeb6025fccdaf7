"""`manage.py worker`: run a background worker that beats and reaps."""

from django_tasks_db.management.commands import db_worker

from core.worker import BeatingWorker


class Command(db_worker.Command):
    help = (
        "Run a background worker for the database task queue, with a heartbeat "
        "and recovery of work whose worker died (see core.worker)."
    )

    def handle(self, *args, **options):
        # db_worker builds its Worker by name; run ours in its place.
        original = db_worker.Worker
        db_worker.Worker = BeatingWorker
        try:
            return super().handle(*args, **options)
        finally:
            db_worker.Worker = original
