"""Background work of the fulfilment app (Django Tasks API)."""

from django_tasks import task

from fulfillment.services import print_job_run


@task()
def print_job_render(job_id: int) -> int:
    """Render a large print batch; return its page count."""
    return print_job_run(job_id=job_id).pages
