"""Background work of the orders app (Django Tasks API)."""

from django_tasks import task

from orders.services import backorders_reallocate


@task()
def backorders_reallocate_task(product_ids: list[int]) -> int:
    """Re-allocate backordered orders that wait for these products."""
    return backorders_reallocate(product_ids=product_ids)


def stock_available(*, product_ids: list[int]) -> None:
    """Hook for inventory (OMS_STOCK_AVAILABLE_HANDLERS): queue the re-allocation."""
    backorders_reallocate_task.enqueue(product_ids=list(product_ids))
