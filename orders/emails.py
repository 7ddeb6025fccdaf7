"""Customer e-mails: queued once per event, sent after commit by a task,
retried when the mail server fails, and recorded on the order timeline."""

import smtplib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders import events
from orders.models import CustomerEmail, Order

Kind = CustomerEmail.Kind
Status = CustomerEmail.Status
MAX_ATTEMPTS = 5

# (filename, content, mimetype) of one attachment.
Attachment = tuple[str, bytes, str]
AttachmentProvider = Callable[[CustomerEmail], list[Attachment]]
# Later apps add files to their kinds of e-mail (returns: the return label),
# built when the mail is sent, so nothing rendered is stored.
_attachment_providers: dict[str, AttachmentProvider] = {}


def customer_email_attachments_register(
    *, kind: str, provider: AttachmentProvider
) -> None:
    """Attach what `provider(email)` returns to every e-mail of this kind."""
    _attachment_providers[kind] = provider


def customer_email_queue(
    *, order: Order, kind: str, key: str = "", context: dict[str, Any] | None = None
) -> CustomerEmail | None:
    """Queue one e-mail to the order's customer about an event, unless the
    channel mails its own customers or this event was already mailed.

    `key` tells events of the same kind apart (a shipment number, a return);
    the e-mail goes out after the surrounding transaction commits.
    """
    if not order.channel.send_customer_emails or not order.customer.email:
        return None
    unique = f"{kind}:{order.pk}:{key}"
    try:
        with transaction.atomic():
            email = CustomerEmail.objects.create(
                order=order,
                kind=kind,
                key=unique,
                to=order.customer.email,
                context=context or {},
            )
    except IntegrityError:
        return None  # This event was mailed already: never twice.
    _send_on_commit([email.pk])
    return email


def customer_emails_queue_many(*, orders: list[Order], kind: str) -> int:
    """Queue the same kind of e-mail for many orders at once (bulk imports)."""
    rows = [
        CustomerEmail(
            order=order, kind=kind, key=f"{kind}:{order.pk}:", to=order.customer.email
        )
        for order in orders
        if order.channel.send_customer_emails and order.customer.email
    ]
    created = CustomerEmail.objects.bulk_create(
        rows, batch_size=2000, ignore_conflicts=True
    )
    ids = list(
        CustomerEmail.objects.filter(
            key__in=[row.key for row in created], status=Status.QUEUED
        ).values_list("pk", flat=True)
    )
    _send_on_commit(ids)
    return len(ids)


def _send_on_commit(email_ids: list[int]) -> None:
    from orders.tasks import customer_emails_send_task

    if email_ids:
        transaction.on_commit(
            lambda: customer_emails_send_task.enqueue(email_ids=email_ids)
        )


def _render(email: CustomerEmail) -> tuple[str, str, str]:
    order = (
        Order.objects.select_related("channel", "customer")
        .prefetch_related("lines")
        .get(pk=email.order_id)
    )
    context = {"order": order, "customer": order.customer, **email.context}
    subject = render_to_string(f"emails/{email.kind}_subject.txt", context).strip()
    text = render_to_string(f"emails/{email.kind}.txt", context)
    html = render_to_string(f"emails/{email.kind}.html", context)
    return subject, text, html


def customer_email_send(*, email_id: int) -> str:
    """Send one queued e-mail; return its status. Safe to call twice."""
    with transaction.atomic():
        email = CustomerEmail.objects.select_for_update().get(pk=email_id)
        if email.status != Status.QUEUED:
            return email.status
        subject, text, html = _render(email)
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers={"X-OMS-Email": email.key},
        )
        message.attach_alternative(html, "text/html")
        provider = _attachment_providers.get(email.kind)
        for filename, content, mimetype in provider(email) if provider else []:
            message.attach(filename, content, mimetype)
        email.attempts += 1
        email.subject = subject
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as error:
            email.last_error = f"{type(error).__name__}: {error}"[:255]
            if email.attempts >= MAX_ATTEMPTS:
                email.status = Status.FAILED
                events.order_event_email(
                    order=email.order,
                    message=f"E-mail “{subject}” to {email.to} failed after "
                    f"{email.attempts} attempts: {email.last_error}",
                    data={"email": email.pk, "kind": email.kind, "failed": True},
                )
            email.save(update_fields=["attempts", "last_error", "status", "subject"])
            return email.status
        email.status = Status.SENT
        email.sent_at = timezone.now()
        email.save(
            update_fields=["attempts", "status", "subject", "sent_at", "last_error"]
        )
        events.order_event_email(
            order=email.order,
            message=f"E-mail “{subject}” sent to {email.to}.",
            data={"email": email.pk, "kind": email.kind},
        )
        return email.status


def retry_delay(attempts: int) -> timedelta:
    """Back off: 1, 2, 4, 8 minutes between attempts."""
    return timedelta(minutes=2 ** max(0, attempts - 1))
