"""Customer e-mails, by subject: `queue` (queued once per event, the send and
sweep tasks), `render` (templates and attachments), `sending` (batches over
one SMTP connection, at most once). The names other apps use are here."""

from orders.emails.queue import (
    EMAIL_BATCH,
    customer_email_queue,
    customer_email_send,
    customer_emails_queue_many,
    customer_emails_send_on_commit,
    customer_emails_send_task,
    customer_emails_sweep_task,
    retry_delay,
)
from orders.emails.render import (
    customer_email_attachments_register,
    customer_emails_render,
)
from orders.emails.sending import (
    CLAIM_STALE_SECONDS,
    EMAIL_SEND_GROUP,
    MAX_ATTEMPTS,
    customer_emails_send,
)

__all__ = [
    "CLAIM_STALE_SECONDS",
    "EMAIL_BATCH",
    "EMAIL_SEND_GROUP",
    "MAX_ATTEMPTS",
    "customer_email_attachments_register",
    "customer_email_queue",
    "customer_email_send",
    "customer_emails_queue_many",
    "customer_emails_render",
    "customer_emails_send",
    "customer_emails_send_on_commit",
    "customer_emails_send_task",
    "customer_emails_sweep_task",
    "retry_delay",
]
