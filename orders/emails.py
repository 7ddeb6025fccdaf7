"""Customer e-mails: queued once per event, sent after commit by a task in
batches over one SMTP connection, retried when the mail server fails, and
recorded on the order timeline.

Never twice. The unique `key` queues each event once. A sending task claims
its e-mails first (status `claimed`, its own token) in one short UPDATE,
renders them, and sends them over one connection, outside any transaction
and holding no row lock. Before a group of `EMAIL_SEND_GROUP` messages goes
to the server, their rows become `sending` (only those this batch still
holds) in one durable commit; the same commit marks the previous group
`sent` with its timeline entries. So if the worker dies, the only e-mails
whose fate is unknown are the group `sending`: they are marked failed ("may
have been delivered"), never sent again, and the timeline says so; the
batch's other e-mails are still `claimed` and another run takes them over
once the claim is stale (`CLAIM_STALE_SECONDS`). If the connection breaks
mid-group, the process is alive and knows which of the group it never
handed over: those go back to the queue. Only the claim and the last `sent`
mark commit without waiting for the disk (`_relaxed_commit`): losing either
in a database crash can only leave an e-mail `claimed` (taken over later,
never handed to the server yet) or `sending` (failed, never resent).
Chosen: at most once. A customer may miss a mail when a worker dies (at
most one group per crash, visible on the order for staff to resend), but
never gets one twice.
"""

import contextlib
import smtplib
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.template import Context, Engine, Template
from django.utils import timezone
from django_tasks import default_task_backend, task

from orders import events
from orders.customer_access import customer_page_url
from orders.mime import smtp_bytes
from orders.models import CustomerEmail, Order

Kind = CustomerEmail.Kind
Status = CustomerEmail.Status
MAX_ATTEMPTS = 5
# E-mails per send task: one SMTP connection, one claim, one render pass.
EMAIL_BATCH = 200
# E-mails marked `sending` together, in one durable commit, before they go
# to the server: the most a worker dying mid-send can leave unknown.
EMAIL_SEND_GROUP = getattr(settings, "OMS_EMAIL_SEND_GROUP", 10)
# A claim older than this belongs to a worker that died (a live batch of
# EMAIL_BATCH takes seconds); another run may take its claimed e-mails over.
CLAIM_STALE_SECONDS = getattr(settings, "OMS_EMAIL_CLAIM_STALE_SECONDS", 120)
# Ids per query when looking e-mails up (SQLite's variable limit).
LOOKUP_CHUNK = 5000

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


def customer_emails_queue_many(*, order_ids: Sequence[int], kind: str) -> int:
    """Queue the same kind of e-mail for many orders at once (bulk imports).

    One set-based INSERT on PostgreSQL; orders whose channel mails its own
    customers, and events already queued, are skipped. The send tasks are
    enqueued after commit, `EMAIL_BATCH` e-mails each. Returns how many were
    queued.
    """
    order_ids = list(order_ids)
    if not order_ids:
        return 0
    if connection.vendor == "postgresql":
        ids = _queue_many_postgresql(order_ids, kind)
    else:
        ids = _queue_many_portable(order_ids, kind)
    _send_on_commit(ids)
    return len(ids)


def _queue_many_postgresql(order_ids: list[int], kind: str) -> list[int]:
    table = CustomerEmail._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (order_id, kind, key, "to", context, status, '
            "attempts, last_error, subject, claimed_by, created_at) "
            "SELECT o.id, %s, concat(%s::text, ':', o.id, ':'), c.email, '{}'::jsonb, "
            "%s, 0, '', '', '', %s "
            # Joined on the ids, never `o.id = ANY(...)`: see core.lookups.IdsIn.
            "FROM unnest(%s::bigint[]) AS wanted(id) "
            "JOIN orders_order o ON o.id = wanted.id "
            "JOIN orders_customer c ON c.id = o.customer_id "
            "JOIN orders_channel ch ON ch.id = o.channel_id "
            "WHERE ch.send_customer_emails AND c.email <> '' "
            "ORDER BY o.id ON CONFLICT (key) DO NOTHING RETURNING id",
            [kind, kind, Status.QUEUED, timezone.now(), order_ids],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _queue_many_portable(order_ids: list[int], kind: str) -> list[int]:
    rows = []
    for start in range(0, len(order_ids), LOOKUP_CHUNK):
        rows.extend(
            Order.objects.filter(
                pk__in=order_ids[start : start + LOOKUP_CHUNK],
                channel__send_customer_emails=True,
            )
            .exclude(customer__email="")
            .values_list("pk", "customer__email")
        )
    keys = [f"{kind}:{pk}:" for pk, _ in rows]
    already = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        already.update(
            CustomerEmail.objects.filter(
                key__in=keys[start : start + LOOKUP_CHUNK]
            ).values_list("key", flat=True)
        )
    CustomerEmail.objects.bulk_create(
        (
            CustomerEmail(order_id=pk, kind=kind, key=key, to=email)
            for (pk, email), key in zip(rows, keys, strict=True)
            if key not in already
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )
    fresh = [key for key in keys if key not in already]
    ids = []
    for start in range(0, len(fresh), LOOKUP_CHUNK):
        ids.extend(
            CustomerEmail.objects.filter(
                key__in=fresh[start : start + LOOKUP_CHUNK], status=Status.QUEUED
            ).values_list("pk", flat=True)
        )
    return sorted(ids)


def _send_on_commit(email_ids: list[int]) -> None:
    """After commit, enqueue send tasks of `EMAIL_BATCH` e-mails each."""
    for start in range(0, len(email_ids), EMAIL_BATCH):
        batch = email_ids[start : start + EMAIL_BATCH]
        transaction.on_commit(
            lambda batch=batch: customer_emails_send_task.enqueue(email_ids=batch)
        )


def _render_batch(emails: list[CustomerEmail]) -> dict[int, EmailMultiAlternatives]:
    """Build every message of a batch: its orders read in three queries, each
    kind's templates looked up once, one context per e-mail. The subject and
    the text body are plain text: rendered without HTML escaping."""
    orders = (
        Order.objects.select_related("channel", "customer")
        .prefetch_related("lines")
        .in_bulk({email.order_id for email in emails})
    )
    engine = Engine.get_default()
    templates: dict[str, tuple[Template, Template, Template]] = {}
    messages = {}
    for email in emails:
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
        provider = _attachment_providers.get(email.kind)
        for filename, content, mimetype in provider(email) if provider else []:
            message.attach(filename, content, mimetype)
        email.subject = subject[:200]
        messages[email.pk] = message
    return messages


def _claim(email_ids: Sequence[int], token: str) -> list[CustomerEmail]:
    """Take the queued e-mails among `email_ids` for this batch (and those a
    dead worker had claimed); fail those a dead worker was sending."""
    now = timezone.now()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    ids = list(email_ids)
    with transaction.atomic():
        # Losing this claim in a database crash loses nothing: every later
        # durable commit (the first `sending` mark) makes it durable too.
        _relaxed_commit()
        CustomerEmail.objects.filter(pk__in=ids).filter(
            Q(status=Status.QUEUED) | Q(status=Status.CLAIMED, claimed_at__lt=stale)
        ).update(status=Status.CLAIMED, claimed_by=token, claimed_at=now)
    lost = list(
        CustomerEmail.objects.filter(
            pk__in=ids, status=Status.SENDING, claimed_at__lt=stale
        ).select_related("order")
    )
    for email in lost:
        _finish_failed(
            email,
            "The worker stopped while handing this e-mail to the mail server; it "
            "may have been delivered, so it is not sent again. Resend it by hand "
            "if the customer did not get it.",
            claimed_by=email.claimed_by,
            final=True,
        )
    return list(
        CustomerEmail.objects.filter(
            pk__in=ids, claimed_by=token, status=Status.CLAIMED
        ).order_by("pk")
    )


def _relaxed_commit() -> None:
    """Let this transaction commit without waiting for its WAL to reach disk
    (PostgreSQL); for marks whose loss in a database crash is harmless."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _finish_failed(
    email: CustomerEmail, error: str, *, claimed_by: str, final: bool = False
) -> str:
    """Record a failed attempt: back in the queue, or failed for good (after
    `MAX_ATTEMPTS`, or `final`)."""
    email.refresh_from_db(fields=["attempts"])
    final = final or email.attempts >= MAX_ATTEMPTS
    status = Status.FAILED if final else Status.QUEUED
    with transaction.atomic():
        CustomerEmail.objects.filter(pk=email.pk, claimed_by=claimed_by).update(
            status=status, last_error=error[:255], claimed_by="", subject=email.subject
        )
        if status == Status.FAILED:
            events.order_event_email(
                order=email.order,
                message=f"E-mail “{email.subject or email.get_kind_display()}” to "
                f"{email.to} failed after {email.attempts} attempt(s): {error}",
                data={"email": email.pk, "kind": email.kind, "failed": True},
            )
    return status


def _release(emails: Sequence[CustomerEmail], token: str) -> None:
    """Give claimed e-mails that were never tried back to the queue."""
    CustomerEmail.objects.filter(
        pk__in=[email.pk for email in emails], claimed_by=token, status=Status.CLAIMED
    ).update(status=Status.QUEUED, claimed_by="")


# The mail server answered, but refused this one message: go on with the next.
MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
)


def _step(
    accepted: Sequence[CustomerEmail], group: Sequence[CustomerEmail], token: str
) -> set[int]:
    """In one commit: mark the `accepted` e-mails sent (with their timeline
    entries) and the next `group` sending. Return the pks of `group` this
    batch still holds (now `sending`).

    Three short statements and one durable commit per group, whatever its
    size: the `sending` mark must be on disk before the messages go out.
    """
    now = timezone.now()
    with transaction.atomic():
        if accepted:
            _mark_sent(accepted, token, now)
        if not group:
            return set()
        return _mark_sending([email.pk for email in group], token, now)


def _table() -> str:
    return connection.ops.quote_name(CustomerEmail._meta.db_table)


def _mark_sending(pks: list[int], token: str, now) -> set[int]:
    """Mark the e-mails among `pks` this batch still holds `sending` (an
    attempt counted); return their pks. The caller holds a transaction.

    Plain SQL: the ORM's statement building costs more than the statement
    (this runs once per group of `EMAIL_SEND_GROUP`)."""
    marks = ", ".join(["%s"] * len(pks))
    where = f"id IN ({marks}) AND claimed_by = %s AND status = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET status = %s, claimed_at = %s, "
            f"attempts = attempts + 1 WHERE {where}"
            + (" RETURNING id" if _returning() else ""),
            [Status.SENDING, now, *pks, token, Status.CLAIMED],
        )
        if _returning():
            return {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT id FROM {_table()} WHERE {where}", [*pks, token, Status.SENDING]
        )
        return {row[0] for row in cursor.fetchall()}


def _returning() -> bool:
    # UPDATE … RETURNING: PostgreSQL, and SQLite from 3.35 (the same
    # version that lets Django return columns from an INSERT).
    return connection.features.can_return_columns_from_insert


def _mark_sent(accepted: Sequence[CustomerEmail], token: str, now) -> None:
    """Record messages the server accepted, with their timeline entries, in
    one UPDATE and one INSERT (COPY on PostgreSQL); the caller holds a
    transaction."""
    subjects = " ".join(["WHEN %s THEN %s"] * len(accepted))
    marks = ", ".join(["%s"] * len(accepted))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET status = %s, sent_at = %s, last_error = '', "
            f"claimed_by = '', subject = CASE id {subjects} ELSE subject END "
            f"WHERE id IN ({marks}) AND claimed_by = %s",
            [
                Status.SENT,
                now,
                *(value for e in accepted for value in (e.pk, e.subject)),
                *(e.pk for e in accepted),
                token,
            ],
        )
    events.order_events_insert(_sent_event_row(email) for email in accepted)


def _sent_event_row(email: CustomerEmail) -> dict[str, Any]:
    return events.order_event_email_row(
        order_id=email.order_id,
        message=f"E-mail “{email.subject}” sent to {email.to}.",
        data={"email": email.pk, "kind": email.kind},
    )


def _give_back(emails: Sequence[CustomerEmail], token: str) -> None:
    """Put `sending` e-mails this batch never handed to the server (the
    connection broke before their turn) back in the queue, the attempt not
    counted: this process knows they were not tried, so a later send cannot
    double them."""
    CustomerEmail.objects.filter(
        pk__in=[email.pk for email in emails], claimed_by=token, status=Status.SENDING
    ).update(status=Status.QUEUED, claimed_by="", attempts=F("attempts") - 1)


def customer_emails_send(*, email_ids: Sequence[int]) -> dict[int, str]:
    """Send a batch of queued e-mails over one SMTP connection; return the
    status of each e-mail this batch took. Safe to call twice, and meant to
    be called outside any transaction (it holds no row lock while sending).

    One commit per group of `EMAIL_SEND_GROUP` messages: the mark that the
    previous group was sent (and its timeline entries) goes with the mark
    that the next group is being sent.
    """
    token = uuid.uuid4().hex
    emails = _claim(email_ids, token)
    if not emails:
        return {}
    mail_server = get_connection()
    try:
        messages = _render_batch(emails)
        mail_server.open()
    except (smtplib.SMTPException, OSError) as error:
        return _fail_batch(emails, token, f"{type(error).__name__}: {error}")
    except BaseException:
        _release(emails, token)
        raise
    outcome: dict[int, str] = {}
    accepted: list[CustomerEmail] = []  # sent, not yet marked sent
    try:
        for start in range(0, len(emails), EMAIL_SEND_GROUP):
            group = emails[start : start + EMAIL_SEND_GROUP]
            held = _step(accepted, group, token)
            outcome.update(dict.fromkeys((e.pk for e in accepted), Status.SENT))
            # Those not held were taken over by another run after a stale claim.
            accepted, group = [], [email for email in group if email.pk in held]
            untried = _send_group(mail_server, messages, group, token, outcome)
            skipped = {e.pk for e in untried or ()}
            accepted = [e for e in group if e.pk not in outcome and e.pk not in skipped]
            if untried is not None:
                # The connection is gone: the rest of the batch goes back too.
                rest = emails[start + EMAIL_SEND_GROUP :]
                _release(rest, token)
                outcome.update(
                    dict.fromkeys((e.pk for e in [*untried, *rest]), Status.QUEUED)
                )
                break
        if accepted:
            with transaction.atomic():
                # A lost `sent` mark only shows as "may have been delivered".
                _relaxed_commit()
                _mark_sent(accepted, token, timezone.now())
            outcome.update(dict.fromkeys((e.pk for e in accepted), Status.SENT))
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail_server.close()
    return outcome


def _send_group(
    mail_server,
    messages: dict[int, EmailMultiAlternatives],
    group: Sequence[CustomerEmail],
    token: str,
    outcome: dict[int, str],
) -> list[CustomerEmail] | None:
    """Hand a group of `sending` e-mails to the server. A refused message is
    recorded in `outcome` and the group goes on; when the connection breaks,
    the e-mails after it are given back untried and returned (None when the
    connection held)."""
    for position, email in enumerate(group):
        try:
            _hand_over(mail_server, messages[email.pk])
        except MESSAGE_ERRORS as error:
            outcome[email.pk] = _finish_failed(
                email, f"{type(error).__name__}: {error}", claimed_by=token
            )
        except (smtplib.SMTPException, OSError) as error:
            # This one counts as tried; the rest of the group never went out.
            outcome[email.pk] = _finish_failed(
                email, f"{type(error).__name__}: {error}", claimed_by=token
            )
            untried = list(group[position + 1 :])
            _give_back(untried, token)
            return untried
    return None


def _hand_over(mail_server, message: EmailMultiAlternatives) -> None:
    """Give one message to the mail server; raise what the server answers.

    Over Django's SMTP backend, a customer e-mail goes out as the bytes
    `orders.mime` writes (the same message, a fraction of the CPU time);
    any other backend, or a message of another shape, goes through Django.
    """
    if type(mail_server) is SMTPBackend and mail_server.connection is not None:
        wire = smtp_bytes(message)
        if wire is not None:
            mail_server.connection.sendmail(*wire)
            return
    mail_server.send_messages([message])


def _fail_batch(
    emails: Sequence[CustomerEmail], token: str, error: str
) -> dict[int, str]:
    """The mail server could not be reached: every e-mail of the batch was
    tried once; back in the queue, or failed after `MAX_ATTEMPTS`."""
    pks = [email.pk for email in emails]
    CustomerEmail.objects.filter(
        pk__in=pks, claimed_by=token, status=Status.CLAIMED
    ).update(attempts=F("attempts") + 1)
    outcome = {}
    for email in emails:
        outcome[email.pk] = _finish_failed(email, error, claimed_by=token)
    return outcome


def customer_email_send(*, email_id: int) -> str:
    """Send one queued e-mail; return its status. Safe to call twice."""
    outcome = customer_emails_send(email_ids=[email_id])
    if email_id in outcome:
        return outcome[email_id]
    return CustomerEmail.objects.get(pk=email_id).status


def retry_delay(attempts: int) -> timedelta:
    """Back off: 1, 2, 4, 8 minutes between attempts."""
    return timedelta(minutes=2 ** max(0, attempts - 1))


@task()
def customer_emails_send_task(email_ids: list[int]) -> dict[str, int]:
    """Send a batch of queued customer e-mails over one SMTP connection;
    retry the ones the mail server refused, later."""
    outcome = customer_emails_send(email_ids=email_ids)
    retry = sorted(pk for pk, status in outcome.items() if status == Status.QUEUED)
    counts = {"sent": 0, "retry": len(retry), "failed": 0}
    for status in outcome.values():
        if status in (Status.SENT, Status.FAILED):
            counts[status] += 1
    if retry:
        attempts = max(
            CustomerEmail.objects.filter(pk__in=retry).values_list(
                "attempts", flat=True
            )
        )
        # Never at once, never by sleeping: the queue waits, or (in-process
        # backend) the periodic sweep sends it when its delay has passed.
        if default_task_backend.supports_defer:
            customer_emails_send_task.using(
                run_after=timezone.now() + retry_delay(attempts)
            ).enqueue(email_ids=retry)
    return counts


@task()
def customer_emails_sweep_task() -> int:
    """Re-enqueue e-mails left behind: queued with no task (a process died
    between commit and enqueue), claimed by a worker that died, or refused
    earlier and due again. Claims make
    a second task for the same e-mail harmless. Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    due_again = Q()
    for attempts in range(1, MAX_ATTEMPTS):
        # Tried and refused: due again once its back-off has passed.
        due_again |= Q(
            status=Status.QUEUED,
            attempts=attempts,
            claimed_at__lt=now - retry_delay(attempts),
        )
    ids = list(
        CustomerEmail.objects.filter(
            Q(status=Status.QUEUED, created_at__lt=stale, attempts=0)
            | Q(status__in=(Status.CLAIMED, Status.SENDING), claimed_at__lt=stale)
            | due_again
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:50_000]
    )
    for start in range(0, len(ids), EMAIL_BATCH):
        customer_emails_send_task.enqueue(email_ids=ids[start : start + EMAIL_BATCH])
    return len(ids)
