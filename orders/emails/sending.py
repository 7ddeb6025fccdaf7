"""Customer e-mails sent: in batches over one SMTP connection, retried when
the mail server fails, and recorded on the order timeline (queued by
`orders.emails.queue`).

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
mark commit without waiting for the disk (`sql.synchronous_commit_off`):
losing either in a database crash can only leave an e-mail `claimed` (taken
over later, never handed to the server yet) or `sending` (failed, never
resent).
Chosen: at most once. A customer may miss a mail when a worker dies (at
most one group per crash, visible on the order for staff to resend), but
never gets one twice.
"""

import contextlib
import smtplib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orders import events, sql
from orders.emails.render import customer_emails_render
from orders.mime import smtp_bytes
from orders.models import CustomerEmail

Status = CustomerEmail.Status
MAX_ATTEMPTS = 5
# E-mails marked `sending` together, in one durable commit, before they go
# to the server: the most a worker dying mid-send can leave unknown.
EMAIL_SEND_GROUP = getattr(settings, "OMS_EMAIL_SEND_GROUP", 10)
# A claim older than this belongs to a worker that died (a live batch of
# 200 takes seconds); another run may take its claimed e-mails over.
CLAIM_STALE_SECONDS = getattr(settings, "OMS_EMAIL_CLAIM_STALE_SECONDS", 120)


def _claim(email_ids: Sequence[int], token: str) -> list[CustomerEmail]:
    """Take the queued e-mails among `email_ids` for this batch (and those a
    dead worker had claimed); fail those a dead worker was sending."""
    now = timezone.now()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    ids = list(email_ids)
    with transaction.atomic():
        # Losing this claim in a database crash loses nothing: every later
        # durable commit (the first `sending` mark) makes it durable too.
        sql.synchronous_commit_off()
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
        return sql.customer_emails_mark_sending(
            pks=[email.pk for email in group], token=token, now=now
        )


def _mark_sent(accepted: Sequence[CustomerEmail], token: str, now) -> None:
    """Record messages the server accepted, with their timeline entries, in
    one UPDATE and one COPY; the caller holds a transaction."""
    sql.customer_emails_mark_sent(
        subjects=[(email.pk, email.subject) for email in accepted],
        token=token,
        now=now,
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
        messages = customer_emails_render(emails)
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
                sql.synchronous_commit_off()
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
    `orders.mime` writes (the same message, a fraction of the CPU time:
    bench_email, worker CPU per e-mail); any other backend, or a message of
    another shape, goes through Django.
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
