"""The daily retention prune: every app's old rows and files, in batches
(core.retention; periods in docs/operations.md)."""

import logging
from datetime import datetime

from django.utils import timezone

from connections.services.retention import inbox_prune, outbox_prune
from core.retention import finished_tasks_prune, rate_windows_prune
from core.tasks import app
from fulfillment.services.retention import (
    print_jobs_prune,
    scan_form_files_prune,
    voided_labels_prune,
)
from orders.services.retention import import_jobs_prune
from returns.services.retention import return_labels_prune, shipment_labels_prune

logger = logging.getLogger(__name__)

PRUNES = {
    "inbound messages": inbox_prune,
    "outbound messages (shops, webhooks, e-mails)": outbox_prune,
    "import jobs": import_jobs_prune,
    "print batches": print_jobs_prune,
    "scan form files": scan_form_files_prune,
    "voided label files": voided_labels_prune,
    "shipping label files": shipment_labels_prune,
    "return label files": return_labels_prune,
    "finished background tasks": finished_tasks_prune,
    "closed rate-limit windows": rate_windows_prune,
}


def retention_prune(*, now: datetime) -> dict[str, int]:
    """Delete the rows and files past their retention period; return how
    many of each went. Each part runs in its own short transactions, so a
    part that fails leaves the others done (it is logged and raised after)."""
    pruned: dict[str, int] = {}
    failed: list[Exception] = []
    for what, prune in PRUNES.items():
        try:
            pruned[what] = prune(now=now)
        except Exception as error:  # one part failing must not stop the rest
            logger.exception("Retention prune of %s failed", what)
            failed.append(error)
    if failed:
        raise failed[0]
    return pruned


@app.periodic(cron="17 3 * * *", periodic_id="retention-prune")
@app.task(queueing_lock="retention-prune")
def retention_prune_task(timestamp: int = 0) -> str:
    """Scheduled daily: prune what is past its retention period."""
    pruned = retention_prune(now=timezone.now())
    return ", ".join(f"{count} {what}" for what, count in pruned.items() if count)
