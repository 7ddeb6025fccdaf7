"""Delete the rows and files past their retention period now (the worker
does it daily)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from oms.retention import retention_prune


class Command(BaseCommand):
    help = (
        "Delete delivered inbox/outbox rows, sent e-mails, finished jobs and "
        "files past their retention period (OMS_RETENTION_* settings)."
    )

    def handle(self, *args, **options):
        pruned = retention_prune(now=timezone.now())
        for what, count in pruned.items():
            self.stdout.write(f"{what}: {count}")
