"""Background work of the orders app (Django Tasks API)."""

from django.utils import timezone
from django_tasks import default_task_backend, task

from orders.importing.jobs import import_job_run
from orders.services import backorders_reallocate


@task()
def backorders_reallocate_task(product_ids: list[int]) -> int:
    """Re-allocate backordered orders that wait for these products."""
    return backorders_reallocate(product_ids=product_ids)


def stock_available(*, product_ids: list[int]) -> None:
    """Hook for inventory (OMS_STOCK_AVAILABLE_HANDLERS): queue the re-allocation."""
    backorders_reallocate_task.enqueue(product_ids=list(product_ids))


@task()
def imported_orders_settle_task(order_ids: list[int]) -> int:
    """Allocate freshly imported orders and mail their customers, in the background."""
    from orders.importing.services import imported_orders_settle

    return imported_orders_settle(order_ids=order_ids, actor=None)


@task()
def import_job_run_task(job_id: int) -> str:
    """Run a confirmed admin import in the background."""
    return import_job_run(job_id=job_id).status


@task()
def customer_emails_send_task(email_ids: list[int]) -> dict[str, int]:
    """Send queued customer e-mails; retry the ones the mail server refused."""
    from orders.emails import MAX_ATTEMPTS, customer_email_send, retry_delay
    from orders.models import CustomerEmail

    outcome = {"sent": 0, "retry": 0, "failed": 0}
    retry = []
    for email_id in email_ids:
        status = customer_email_send(email_id=email_id)
        if status == CustomerEmail.Status.QUEUED:
            retry.append(email_id)
        outcome[
            "sent" if status == "sent" else "failed" if status == "failed" else "retry"
        ] += 1
    if retry:
        attempts = max(
            CustomerEmail.objects.filter(pk__in=retry).values_list(
                "attempts", flat=True
            )
        )
        if default_task_backend.supports_defer:
            customer_emails_send_task.using(
                run_after=timezone.now() + retry_delay(attempts)
            ).enqueue(email_ids=retry)
        elif attempts < MAX_ATTEMPTS:
            # An in-process backend cannot wait: try again at once.
            customer_emails_send_task.enqueue(email_ids=retry)
    return outcome
