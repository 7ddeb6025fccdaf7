"""Background work of the fulfilment app (Django Tasks API)."""

from django_tasks import task

from fulfillment.services import print_job_run


@task()
def print_job_render(job_id: int) -> int:
    """Render a large print batch; return its page count."""
    return print_job_run(job_id=job_id).pages


@task()
def channel_webhook_send_task(
    channel_id: int,
    order_id: int,
    shipment_id: int | None,
    event: str,
    payload: dict,
    attempt: int = 1,
) -> bool:
    """POST a shipping update to a sales channel; retry with backoff on failure."""
    import time

    from django.utils import timezone
    from django_tasks import default_task_backend

    from fulfillment import webhooks

    delivery = webhooks.channel_webhook_deliver(
        channel_id=channel_id,
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        payload=payload,
        attempt=attempt,
    )
    if delivery is None or delivery.succeeded:
        return True
    again = {
        "channel_id": channel_id,
        "order_id": order_id,
        "shipment_id": shipment_id,
        "event": event,
        "payload": payload,
        "attempt": attempt + 1,
    }
    if default_task_backend.supports_defer:
        if attempt < webhooks.MAX_ATTEMPTS:
            channel_webhook_send_task.using(
                run_after=timezone.now() + webhooks.retry_delay(attempt)
            ).enqueue(**again)
    elif attempt < webhooks.INLINE_ATTEMPTS:
        # An in-process backend cannot wait in a queue: pause briefly, try again.
        time.sleep(webhooks.INLINE_BACKOFF_SECONDS * 2 ** (attempt - 1))
        channel_webhook_send_task.enqueue(**again)
    return False
