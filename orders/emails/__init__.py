"""Customer e-mails, by subject: `queue` (asked for once per event, in the
caller's transaction) and `render` (templates and attachments). They are sent
as messages of the one outbox (`connections.outbox.email`). The names other
apps use are here."""

from orders.emails.queue import customer_email_queue, customer_emails_queue_many
from orders.emails.render import (
    EmailToSend,
    customer_email_attachments_register,
    customer_emails_render,
)

__all__ = [
    "EmailToSend",
    "customer_email_attachments_register",
    "customer_email_queue",
    "customer_emails_queue_many",
    "customer_emails_render",
]
