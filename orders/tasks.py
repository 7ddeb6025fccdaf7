"""Background work of the orders app (Django Tasks API)."""

from django_tasks import task

from orders.importing.jobs import import_job_run
from orders.services import backorders_reallocate, orders_allocate_in_batches


@task()
def backorders_reallocate_task(product_ids: list[int]) -> int:
    """Re-allocate backordered orders that wait for these products."""
    return backorders_reallocate(product_ids=product_ids)


def stock_available(*, product_ids: list[int]) -> None:
    """Hook for inventory (OMS_STOCK_AVAILABLE_HANDLERS): queue the re-allocation."""
    backorders_reallocate_task.enqueue(product_ids=list(product_ids))


@task()
def orders_allocate_task(order_ids: list[int]) -> int:
    """Allocate freshly imported orders in the background."""
    return orders_allocate_in_batches(order_ids=order_ids, actor=None)


@task()
def import_job_run_task(job_id: int) -> str:
    """Run a confirmed admin import in the background."""
    return import_job_run(job_id=job_id).status
