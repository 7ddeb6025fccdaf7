"""Customer e-mails as outbox messages: recorded in the caller's transaction
(the `customer.email` hook) and sent in batches over one SMTP connection, by
the outbox's one engine (`connections.outbox.sending` routes them here; the
same attempts, backoff, destination pause, sweep and replay as every other
message).

Never twice. The unique (channel, kind, key) records each event once. A
sending task claims its e-mails first (status `claimed`, its own token, a
lease in `next_attempt_at`) in one short UPDATE, renders them, and sends them
over one connection, outside any transaction and holding no row lock. Before
a group of `EMAIL_SEND_GROUP` messages goes to the server, their rows become
`sending` (only those this batch still holds) in one durable commit; the same
commit marks the previous group `sent` with its timeline entries. So if the
worker dies, the only e-mails whose fate is unknown are the group `sending`:
they are marked failed ("may have been delivered"), never sent again, and the
timeline says so; the batch's other e-mails are still `claimed` and another
run takes them over once the lease has run out. If the connection breaks
mid-group, the process is alive and knows which of the group it never handed
over: those go back to the queue. Only the claim and the last `sent` mark
commit without waiting for the disk (`sql.synchronous_commit_off`): losing
either in a database crash can only leave an e-mail `claimed` (taken over
later, never handed to the server yet) or `sending` (failed, never resent).
Chosen: at most once. A customer may miss a mail when a worker dies (at most
one group per crash, failed visibly on the order and in the outbox, where
Replay sends it again), but never gets one twice.

Every other message is delivered at least once (a receiver tells a retry by
its `webhook-id`); an e-mail has no such id a customer's mail program reads.
A mail server that cannot be reached pauses the `email` destination
(`connections.outbox.destinations`): the batch waits, spending no attempt.
Sent e-mails leave their record on the order's timeline; only failed
attempts are written to the attempt log (one row per sent e-mail would cost
the engine a third of its speed: bench_email).
"""

import contextlib
import smtplib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import ngettext

from connections import sql
from connections.models import OutboundAttempt, OutboundMessage
from connections.outbox.destinations import (
    destination_answered,
    destination_pause,
    destination_paused_until,
)
from connections.outbox.rules import EMAIL, max_attempts, retry_delay
from core.faults import fault_pause
from orders import events
from orders.emails import EmailToSend, customer_emails_render
from orders.mime import smtp_bytes

Status = OutboundMessage.Status
KIND_PREFIX = "email."
# E-mails marked `sending` together, in one durable commit, before they go
# to the server: the most a worker dying mid-send can leave unknown.
EMAIL_SEND_GROUP = getattr(settings, "OMS_EMAIL_SEND_GROUP", 10)


def email_kind(kind: str) -> str:
    """The outbox kind of an e-mail of `orders.models.EmailKind` `kind`."""
    return f"{KIND_PREFIX}{kind}"


def emails_record(
    *, kind: str, order_ids: Sequence[int], key: str, context: dict[str, Any]
) -> list[int]:
    """`customer.email`: record one e-mail per order (whose channel mails its
    customers and whose customer has an address) in the caller's transaction,
    once per event. Return the ids (the caller wakes their sender)."""
    return sql.emails_insert_for_orders(
        order_ids=order_ids,
        kind=email_kind(kind),
        key=key,
        context=context,
        attempts=max_attempts(),
        now=timezone.now(),
    )


def staff_email_record(*, to: str, subject: str, body: str) -> int:
    """`staff.email`: record an e-mail to the shop's staff (a rule matched
    orders) in the caller's transaction; return its id (the caller wakes its
    sender)."""
    message = OutboundMessage.objects.create(
        platform=EMAIL,
        kind=OutboundMessage.Kind.EMAIL_RULE_MATCHED,
        dedupe_key=uuid.uuid4().hex,
        to=to,
        subject=subject[:200],
        payload={"body": body},
        attempts_left=max_attempts(),
        next_attempt_at=timezone.now(),
    )
    return message.pk


def _lease(now: datetime) -> datetime:
    """The end of a claim (`OMS_EMAIL_LEASE_SECONDS`): a sender that has not
    finished its batch by then died (a live batch of 200 takes a second or
    two); another run takes its claimed e-mails over, and fails those it was
    sending."""
    return now + timedelta(seconds=settings.OMS_EMAIL_LEASE_SECONDS)


def _to_send(message: OutboundMessage) -> EmailToSend:
    if message.order_id is None:
        # To the staff: its subject and body were written when it was recorded.
        return EmailToSend(
            pk=message.pk,
            order_id=None,
            kind=message.kind.removeprefix(KIND_PREFIX),
            to=message.to,
            key=f"{message.kind}:{message.dedupe_key}",
            context=message.payload or {},
            subject=message.subject,
        )
    return EmailToSend(
        pk=message.pk,
        order_id=message.order_id,
        kind=message.kind.removeprefix(KIND_PREFIX),
        to=message.to,
        key=f"{message.kind}:{message.dedupe_key}",
        context=message.payload or {},
    )


def _claim(message_ids: Sequence[int], token: str, now: datetime) -> list[EmailToSend]:
    """Take the due e-mails among `message_ids` for this batch (and those a
    dead sender had claimed); fail those a dead sender was handing over."""
    ids = list(message_ids)
    with transaction.atomic():
        # Losing this claim in a database crash loses nothing: every later
        # durable commit (the first `sending` mark) makes it durable too.
        sql.synchronous_commit_off()
        OutboundMessage.objects.filter(
            pk__in=ids,
            platform=EMAIL,
            status__in=(Status.PENDING, Status.CLAIMED),
            next_attempt_at__lte=now,
        ).update(
            status=Status.CLAIMED,
            claimed_by=token,
            next_attempt_at=_lease(now),
            updated_at=now,
        )
    _fail_lost(ids, now)
    return [
        _to_send(message)
        for message in OutboundMessage.objects.filter(
            pk__in=ids, claimed_by=token, status=Status.CLAIMED
        ).order_by("pk")
    ]


def _fail_lost(ids: Sequence[int], now: datetime) -> None:
    """Fail the e-mails among `ids` a dead sender was handing over."""
    lost = list(
        OutboundMessage.objects.filter(
            pk__in=ids, platform=EMAIL, status=Status.SENDING, next_attempt_at__lte=now
        )
    )
    for message in lost:
        email = _to_send(message)
        _finish_failed(
            email,
            "The sender stopped while handing this e-mail to the mail server; it "
            "may have been delivered, so it is not sent again. Replay it in the "
            "outbox if the customer did not get it.",
            claimed_by=message.claimed_by,
            final=True,
        )


def _finish_failed(
    email: EmailToSend, error: str, *, claimed_by: str, final: bool = False
) -> str:
    """Record a failed attempt: due again after the back-off, or failed for
    good (no attempts left, or `final`). Nothing is recorded when this batch
    no longer holds the e-mail (another run took it over after the lease):
    return its status then."""
    attempts, left, status = OutboundMessage.objects.filter(pk=email.pk).values_list(
        "attempts", "attempts_left", "status"
    )[0]
    final = final or left <= 0
    now = timezone.now()
    with transaction.atomic():
        held = OutboundMessage.objects.filter(
            pk=email.pk,
            claimed_by=claimed_by,
            status__in=(Status.CLAIMED, Status.SENDING),
        )
        status = Status.FAILED if final else Status.PENDING
        if not held.update(
            status=status,
            last_error=error[:500],
            claimed_by="",
            subject=email.subject,
            next_attempt_at=None if final else now + retry_delay(attempts),
            updated_at=now,
        ):
            return OutboundMessage.objects.get(pk=email.pk).status
        OutboundAttempt.objects.create(
            message_id=email.pk,
            number=attempts,
            started_at=now,
            request=f"SMTP to {email.to}"[:300],
            error=error[:500],
        )
        if status == Status.FAILED and email.order_id is not None:
            events.order_events_insert(
                [
                    events.order_event_email_row(
                        order_id=email.order_id,
                        message=f"E-mail “{email.subject or email.kind}” to "
                        + ngettext(
                            "{to} failed after {n} attempt: {error}",
                            "{to} failed after {n} attempts: {error}",
                            attempts,
                        ).format(to=email.to, n=attempts, error=error),
                        data={"email": email.pk, "kind": email.kind, "failed": True},
                    )
                ]
            )
    return status


def _release(emails: Sequence[EmailToSend], token: str) -> None:
    """Give claimed e-mails that were never tried back to the queue."""
    OutboundMessage.objects.filter(
        pk__in=[email.pk for email in emails], claimed_by=token, status=Status.CLAIMED
    ).update(status=Status.PENDING, claimed_by="", next_attempt_at=timezone.now())


# The mail server answered, but refused this one message: go on with the next.
MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
)


def _step(
    accepted: Sequence[EmailToSend], group: Sequence[EmailToSend], token: str
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
        return sql.emails_mark_sending(
            pks=[email.pk for email in group],
            token=token,
            now=now,
            lease_until=_lease(now),
        )


def _mark_sent(accepted: Sequence[EmailToSend], token: str, now) -> None:
    """Record messages the server accepted (those this batch still holds),
    with their timeline entries, in one UPDATE and one COPY; the caller holds
    a transaction."""
    held = sql.emails_mark_sent(
        subjects=[(email.pk, email.subject) for email in accepted],
        token=token,
        now=now,
    )
    events.order_events_insert(
        events.order_event_email_row(
            order_id=email.order_id,
            message=f"E-mail “{email.subject}” sent to {email.to}.",
            data={"email": email.pk, "kind": email.kind},
        )
        for email in accepted
        if email.pk in held and email.order_id is not None
    )


def _give_back(emails: Sequence[EmailToSend], token: str) -> None:
    """Put `sending` e-mails this batch never handed to the server (the
    connection broke before their turn) back in the queue, the attempt not
    counted: this process knows they were not tried, so a later send cannot
    double them."""
    OutboundMessage.objects.filter(
        pk__in=[email.pk for email in emails], claimed_by=token, status=Status.SENDING
    ).update(
        status=Status.PENDING,
        claimed_by="",
        next_attempt_at=timezone.now(),
        attempts=F("attempts") - 1,
        attempts_left=F("attempts_left") + 1,
    )


def emails_send(
    *, message_ids: Sequence[int], now: datetime | None = None
) -> dict[int, str]:
    """Send a batch of due e-mails over one SMTP connection; return the
    status of each e-mail this batch took. Safe to call twice, and meant to
    be called outside any transaction (it holds no row lock while sending).

    One commit per group of `EMAIL_SEND_GROUP` messages: the mark that the
    previous group was sent (and its timeline entries) goes with the mark
    that the next group is being sent. `now` says which are due (the sweep
    passes its own).
    """
    now = now or timezone.now()
    paused = destination_paused_until(EMAIL, now=now)
    if paused is not None:
        # The mail server is down: the e-mails wait for the pause to end
        # (those a dead sender held too).
        ids = list(message_ids)
        _fail_lost(ids, now)
        OutboundMessage.objects.filter(
            pk__in=ids,
            platform=EMAIL,
            status__in=(Status.PENDING, Status.CLAIMED),
            next_attempt_at__lte=now,
        ).update(status=Status.PENDING, claimed_by="", next_attempt_at=paused)
        return {}
    token = uuid.uuid4().hex
    emails = _claim(message_ids, token, now)
    if not emails:
        return {}
    outcome: dict[int, str] = {}
    try:
        messages = customer_emails_render(
            [email for email in emails if email.order_id is not None]
        )
        messages |= _staff_render([e for e in emails if e.order_id is None])
    except BaseException:
        _release(emails, token)
        raise
    for email in emails:
        if email.pk not in messages:
            # This one cannot be written: an attempt spent, the others go on.
            outcome[email.pk] = _unwritable(email, token)
    emails = [email for email in emails if email.pk in messages]
    if not emails:
        return outcome
    mail_server = get_connection()
    try:
        mail_server.open()
    except (smtplib.SMTPException, OSError) as error:
        error_text = f"{type(error).__name__}: {error}"
        return outcome | _server_down(emails, token, error_text)
    except BaseException:
        _release(emails, token)
        raise
    destination_answered(EMAIL)
    accepted: list[EmailToSend] = []  # sent, not yet marked sent
    try:
        for start in range(0, len(emails), EMAIL_SEND_GROUP):
            group = emails[start : start + EMAIL_SEND_GROUP]
            held = _step(accepted, group, token)
            outcome.update(dict.fromkeys((e.pk for e in accepted), Status.SENT))
            # Those not held were taken over by another run after the lease.
            accepted, group = [], [email for email in group if email.pk in held]
            untried = _send_group(mail_server, messages, group, token, outcome)
            fault_pause("outbox.email_group")  # the fault suite kills it here
            skipped = {e.pk for e in untried or ()}
            accepted = [e for e in group if e.pk not in outcome and e.pk not in skipped]
            if untried is not None:
                # The connection is gone: the rest of the batch goes back too.
                rest = emails[start + EMAIL_SEND_GROUP :]
                _release(rest, token)
                outcome.update(
                    dict.fromkeys((e.pk for e in [*untried, *rest]), Status.PENDING)
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
    group: Sequence[EmailToSend],
    token: str,
    outcome: dict[int, str],
) -> list[EmailToSend] | None:
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


def _staff_render(emails: Sequence[EmailToSend]) -> dict[int, EmailMultiAlternatives]:
    """The staff's e-mails: plain text, as recorded."""
    return {
        email.pk: EmailMultiAlternatives(
            subject=email.subject,
            body=email.context.get("body", ""),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers={"X-OMS-Email": email.key},
        )
        for email in emails
    }


def _unwritable(email: EmailToSend, token: str) -> str:
    """An e-mail that could not be rendered: the attempt counts (a template or
    attachment fixed meanwhile lets a retry or Replay send it)."""
    OutboundMessage.objects.filter(
        pk=email.pk, claimed_by=token, status=Status.CLAIMED
    ).update(
        attempts=F("attempts") + 1,
        attempts_left=Greatest(F("attempts_left") - 1, 0),
    )
    return _finish_failed(email, email.error, claimed_by=token)


def _server_down(
    emails: Sequence[EmailToSend], token: str, error: str
) -> dict[int, str]:
    """The mail server could not be reached: pause the `email` destination;
    the batch waits for the pause to end, spending no attempt."""
    until = destination_pause(EMAIL, error=error)
    OutboundMessage.objects.filter(
        pk__in=[email.pk for email in emails], claimed_by=token, status=Status.CLAIMED
    ).update(
        status=Status.PENDING, claimed_by="", next_attempt_at=until, last_error=error
    )
    return dict.fromkeys((email.pk for email in emails), Status.PENDING)
