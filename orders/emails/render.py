"""Customer e-mails rendered from their templates: a batch at a time, with
the attachments later apps add to their kinds of e-mail."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Engine, Template

from orders.customer_access import customer_page_url
from orders.models import Order


@dataclass
class EmailToSend:
    """One e-mail to render: the outbox message's id, its order, its kind
    (`orders.models.EmailKind`), address, key and template context. Rendering
    sets `order` and `subject`."""

    pk: int
    # None for an e-mail to the shop's staff.
    order_id: int | None
    kind: str
    to: str
    key: str
    context: dict[str, Any] = field(default_factory=dict)
    order: Order | None = None
    subject: str = ""
    # Why it could not be rendered (a template or an attachment failed).
    error: str = ""


# (filename, content, mimetype) of one attachment.
Attachment = tuple[str, bytes, str]
AttachmentProvider = Callable[[EmailToSend], list[Attachment]]
# Later apps add files to their kinds of e-mail (returns: the return label),
# built when the mail is sent, so nothing rendered is stored.
attachment_providers: dict[str, AttachmentProvider] = {}


def customer_email_attachments_register(
    *, kind: str, provider: AttachmentProvider
) -> None:
    """Attach what `provider(email)` returns to every e-mail of this kind."""
    attachment_providers[kind] = provider


def customer_emails_render(
    emails: list[EmailToSend],
) -> dict[int, EmailMultiAlternatives]:
    """Build every message of a batch, by e-mail pk: its orders read in three
    queries, each kind's templates looked up once, one context per e-mail.
    The subject and the text body are plain text: rendered without HTML
    escaping. Sets each e-mail's `order` and `subject`; an e-mail that cannot
    be rendered (its order gone, a template or an attachment failing) is left
    out, with `error` saying why, and the others are rendered."""
    orders = (
        Order.objects.select_related("channel", "customer")
        .prefetch_related("lines")
        .in_bulk({email.order_id for email in emails})
    )
    engine = Engine.get_default()
    templates: dict[str, tuple[Template, ...]] = {}
    messages = {}
    for email in emails:
        try:
            messages[email.pk] = _render(email, orders, engine, templates)
        except Exception as error:  # noqa: BLE001 (one e-mail's fault)
            email.error = f"Could not be written: {type(error).__name__}: {error}"
    return messages


def _render(
    email: EmailToSend,
    orders: dict[int, Order],
    engine: Engine,
    templates: dict[str, tuple[Template, ...]],
) -> EmailMultiAlternatives:
    order = orders[email.order_id]
    email.order = order
    if email.kind not in templates:
        templates[email.kind] = tuple(
            engine.get_template(f"emails/{email.kind}{suffix}")
            for suffix in ("_subject.txt", ".txt", ".html")
        )
    subject_template, text_template, html_template = templates[email.kind]
    values = {
        "order": order,
        "customer": order.customer,
        "customer_page_url": customer_page_url(order=order),
        **email.context,
    }
    text = Context(values, autoescape=False)
    subject = " ".join(subject_template.render(text).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text_template.render(text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"X-OMS-Email": email.key},
    )
    message.attach_alternative(html_template.render(Context(values)), "text/html")
    provider = attachment_providers.get(email.kind)
    for filename, content, mimetype in provider(email) if provider else []:
        message.attach(filename, content, mimetype)
    email.subject = subject[:200]
    return message
