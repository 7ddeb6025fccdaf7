"""Customer e-mails as the tests read them: messages of the one outbox
(`connections.OutboundMessage`, platform `email`, kind `email.<EmailKind>`)."""

from django.db.models import QuerySet

from connections.models import OutboundMessage


def customer_emails(kind: str | None = None, **filters) -> QuerySet[OutboundMessage]:
    """The e-mails to customers, of one `orders.models.EmailKind` if given."""
    emails = OutboundMessage.objects.filter(platform="email", **filters)
    if kind is not None:
        emails = emails.filter(kind=f"email.{kind}")
    return emails
