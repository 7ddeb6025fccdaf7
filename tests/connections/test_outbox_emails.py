"""Customer e-mails as messages of the one outbox (platform `email`): once
per event, after commit, in batches over one SMTP connection, at most once,
retried with back-off, paused while the mail server is down, on the timeline,
and replayable from the outbox."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from connections.models import OutboundAttempt, OutboxDestination
from connections.outbox import email as email_engine
from connections.outbox import sending
from connections.outbox.email import emails_send
from connections.outbox.sending import (
    outbox_send_due_run,
    outbox_send_many,
    outbox_send_many_task,
)
from orders.emails import customer_email_queue, customer_emails_queue_many
from orders.models import EmailKind, OrderEvent
from orders.services.lifecycle import order_cancel
from tests.support.emails import customer_emails
from tests.support.mail import FlakyBackend


@pytest.fixture
def placed(product, stock, place_order, django_capture_on_commit_callbacks):
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        return place_order([(product, 2)])


@pytest.mark.django_db
def test_order_received_mail_is_sent_after_commit_in_text_and_html(placed):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == f"We have your order {placed.number}"
    assert message.to == [placed.customer.email]
    assert "2 × T-shirt black M (TSH-BLK-M)" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<strong>Ada Lovelace, 1 Main St" in html
    event = OrderEvent.objects.get(order=placed, kind="email")
    assert (
        event.message == f"E-mail “{message.subject}” sent to {placed.customer.email}."
    )
    email = customer_emails(EmailKind.RECEIVED).get()
    assert (email.status, email.attempts, email.to, email.subject) == (
        "sent",
        1,
        placed.customer.email,
        message.subject,
    )
    assert email.dedupe_key == f"{placed.pk}:" and email.claimed_by == ""
    assert not OutboundAttempt.objects.exists()  # only failed attempts are logged


@pytest.mark.django_db
def test_nothing_is_sent_before_the_transaction_commits(product, stock, place_order):
    stock(product, 5)
    place_order([(product, 1)])  # the test transaction never commits
    assert mail.outbox == []
    email = customer_emails().get()
    assert (email.status, email.attempts) == ("pending", 0)
    assert email.next_attempt_at <= timezone.now()  # due at once


@pytest.mark.django_db
def test_the_same_event_is_never_mailed_twice(
    placed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        customer_email_queue(order=placed, kind=EmailKind.RECEIVED)
    email = customer_emails().get()  # still one
    assert outbox_send_many_task(message_ids=[email.pk]) == 0
    assert emails_send(message_ids=[email.pk]) == {}
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_channel_that_mails_its_own_customers_gets_none(
    channel, product, stock, place_order, django_capture_on_commit_callbacks
):
    channel.send_customer_emails = False
    channel.save()
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        place_order([(product, 1)])
    assert mail.outbox == [] and not customer_emails().exists()


def _retry_when_due(order, *, times: int) -> None:
    """Let each back-off pass and run the periodic sweep, `times` times."""
    for _ in range(times):
        customer_emails(order=order, status="pending").update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        outbox_send_due_run()


def _backoff_bounds(attempt: int) -> tuple[timedelta, timedelta]:
    """`rules.retry_delay(attempt)`'s range: its step ±20 % jitter."""
    step = min(60 * 2 ** (attempt - 1), 3600)
    return timedelta(seconds=step * 0.8 - 1), timedelta(seconds=step * 1.2 + 1)


@pytest.mark.django_db
def test_smtp_failure_is_retried_with_back_off_until_it_goes_through(
    settings,
    product,
    stock,
    place_order,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    monkeypatch.setattr(FlakyBackend, "failures", 2)
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])

    # Retries are scheduled, never immediate: the sweep sends them when due,
    # each after a longer wait (1, 2 … minutes, with jitter).
    for attempt in (1, 2):
        email = customer_emails(order=order).get()
        assert (email.status, email.attempts) == ("pending", attempt)
        low, high = _backoff_bounds(attempt)
        wait = email.next_attempt_at - email.updated_at
        assert low <= wait <= high, wait
        assert outbox_send_due_run() == 0  # not due yet
        _retry_when_due(order, times=1)

    email = customer_emails(order=order).get()
    assert (email.status, email.attempts, email.attempts_left) == ("sent", 3, 7)
    assert len(mail.outbox) == 1
    # The failed attempts are in the attempt log; the mail server was never
    # paused (it answered: the message went wrong, not the server).
    attempts = OutboundAttempt.objects.filter(message=email).order_by("number")
    assert [(a.number, a.succeeded) for a in attempts] == [(1, False), (2, False)]
    assert all("SMTPServerDisconnected" in a.error for a in attempts)
    assert not OutboxDestination.objects.filter(paused_until__isnull=False).exists()


@pytest.mark.django_db
def test_mail_that_keeps_failing_is_marked_failed_on_the_timeline(
    settings,
    product,
    stock,
    place_order,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    settings.OMS_OUTBOX_MAX_ATTEMPTS = 5
    monkeypatch.setattr(FlakyBackend, "failures", 99)
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])
    _retry_when_due(order, times=6)

    email = customer_emails(order=order).get()
    assert (email.status, email.attempts, email.attempts_left) == ("failed", 5, 0)
    assert email.next_attempt_at is None
    assert "SMTPServerDisconnected" in email.last_error
    assert OutboundAttempt.objects.filter(message=email).count() == 5
    assert OrderEvent.objects.filter(
        order=order, kind="email", message__contains="failed", data__failed=True
    ).exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_failed_mail_shows_its_attempts_and_replay_sends_it(
    settings,
    user,
    product,
    stock,
    place_order,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    from connections.outbox.services import outbox_replay

    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    settings.OMS_OUTBOX_MAX_ATTEMPTS = 1
    monkeypatch.setattr(FlakyBackend, "failures", 1)
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])
    email = customer_emails(order=order).get()
    assert (email.status, email.attempts_left) == ("failed", 0)
    (attempt,) = email.attempt_log.all()
    assert attempt.number == 1 and not attempt.succeeded
    assert "SMTPServerDisconnected" in attempt.error
    assert attempt.request == f"SMTP to {email.to}"

    settings.OMS_OUTBOX_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        replayed, skipped = outbox_replay(messages=[email], actor=user)

    assert [m.pk for m in replayed] == [email.pk] and skipped == []
    email.refresh_from_db()
    assert (email.status, email.attempts, email.attempts_left) == ("sent", 2, 2)
    assert len(mail.outbox) == 1
    timeline = list(
        OrderEvent.objects.filter(order=order, kind="email")
        .order_by("pk")
        .values_list("message", flat=True)
    )
    assert len(timeline) == 2
    assert "failed after 1 attempt:" in timeline[0]
    assert timeline[1] == f"E-mail “{email.subject}” sent to {email.to}."
    # Sent: a second replay is possible on purpose, a plain resend is not.
    assert outbox_send_many(message_ids=[email.pk]) == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_cancellation_mail_gives_the_reason(
    placed, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=placed, actor=user, reason="out of stock for weeks")
    message = mail.outbox[-1]
    assert message.subject == f"Your order {placed.number} was cancelled"
    assert "(out of stock for weeks)" in message.body
    assert customer_emails(EmailKind.CANCELLED).get().status == "sent"


# Against a real SMTP server (aiosmtpd on localhost): batches, connections,
# never twice, and no row lock or transaction held while talking to it.


@pytest.fixture
def smtp_server(settings):
    from tests.support.smtp import SmtpSink

    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield sink.handler


@pytest.fixture
def many_orders(channel, product, stock, place_order):
    """Place `n` orders for different customers without mailing them yet."""
    from tests.factories import CustomerFactory

    def place(n):
        stock(product, n)
        orders = []
        for number in range(n):
            order = place_order([(product, 1)])
            order.customer = CustomerFactory(email=f"buyer{number}@example.com")
            order.save(update_fields=["customer"])
            orders.append(order)
        customer_emails().delete()
        return orders

    return place


def _queue(orders) -> list[int]:
    """Queue "order received" for `orders` (no wake-up: nothing commits);
    return the e-mails' ids in order."""
    customer_emails_queue_many(
        order_ids=[o.pk for o in orders], kind=EmailKind.RECEIVED
    )
    return sorted(customer_emails().values_list("pk", flat=True))


@pytest.mark.django_db
def test_bulk_queued_mails_go_out_in_batches_over_one_connection_each(
    smtp_server, many_orders, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(sending, "SEND_CHUNK", 10)
    orders = many_orders(25)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind=EmailKind.RECEIVED
        )

    assert customer_emails().count() == 25
    assert len(callbacks) == 3  # one send task per batch of 10, not per e-mail
    assert smtp_server.connections == 3
    assert len(smtp_server.messages) == 25
    assert set(smtp_server.keys.values()) == {1}
    assert customer_emails(status="sent").count() == 25
    assert OrderEvent.objects.filter(kind="email").count() == 25


@pytest.mark.django_db
def test_a_batch_sent_again_sends_nothing_twice(
    smtp_server, many_orders, django_capture_on_commit_callbacks
):
    orders = many_orders(5)
    with django_capture_on_commit_callbacks(execute=True):
        customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind=EmailKind.RECEIVED
        )
        # The same event queued again (a retried import) adds nothing.
        customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind=EmailKind.RECEIVED
        )
    ids = list(customer_emails().values_list("pk", flat=True))

    assert len(ids) == 5
    assert outbox_send_many_task(message_ids=ids) == 0
    assert emails_send(message_ids=ids) == {}
    assert len(smtp_server.messages) == 5
    assert set(smtp_server.keys.values()) == {1}


@pytest.mark.django_db
def test_worker_dying_mid_batch_loses_at_most_the_group_in_flight_and_never_doubles(
    smtp_server, many_orders, monkeypatch
):
    monkeypatch.setattr(email_engine, "EMAIL_SEND_GROUP", 2)
    ids = _queue(many_orders(7))
    step = email_engine._step

    class WorkerKilled(BaseException):
        pass

    def die_after_sending_the_second_group(accepted, group, token):
        if ids[2] in {email.pk for email in accepted}:
            raise WorkerKilled  # sent to the server, not yet marked sent
        return step(accepted, group, token)

    monkeypatch.setattr(email_engine, "_step", die_after_sending_the_second_group)
    with pytest.raises(WorkerKilled):
        emails_send(message_ids=ids)
    monkeypatch.setattr(email_engine, "_step", step)
    statuses = dict(customer_emails().values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent"] * 2 + ["sending"] * 2 + [
        "claimed"
    ] * 3
    assert len(smtp_server.messages) == 4

    # A run right away leaves another batch's claims alone, and so does the
    # sweep: their lease has not run out ...
    assert emails_send(message_ids=ids) == {}
    assert outbox_send_due_run() == 0
    # ... once it has, the sweep takes the untried ones over and fails those
    # that were in flight.
    customer_emails(pk__in=ids, status__in=["claimed", "sending"]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert outbox_send_due_run() == 5

    statuses = dict(customer_emails().values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent"] * 2 + ["failed"] * 2 + ["sent"] * 3
    for pk in ids[2:4]:
        in_flight = customer_emails().get(pk=pk)
        assert "may have been delivered" in in_flight.last_error
        assert in_flight.claimed_by == "" and in_flight.next_attempt_at is None
        assert in_flight.attempt_log.count() == 1
        assert OrderEvent.objects.filter(
            order_id=in_flight.order_id, kind="email", data__failed=True
        ).exists()
    assert len(smtp_server.messages) == 7
    assert set(smtp_server.keys.values()) == {1}
    assert customer_emails(status="sent").count() == 5
    assert (
        OrderEvent.objects.filter(kind="email", message__contains=" sent to ").count()
        == 5
    )
    # Never twice: a further sweep finds nothing to do.
    assert outbox_send_due_run() == 0
    assert len(smtp_server.messages) == 7


@pytest.mark.django_db
def test_connection_lost_mid_group_gives_the_untried_back_and_sends_them_later(
    smtp_server, many_orders, monkeypatch
):
    monkeypatch.setattr(email_engine, "EMAIL_SEND_GROUP", 3)
    ids = _queue(many_orders(7))
    send = smtplib.SMTP.sendmail
    handed = []

    def breaking_on_the_fifth(client, sender, recipients, message, *args):
        handed.append(message)
        if len(handed) == 5:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return send(client, sender, recipients, message, *args)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", breaking_on_the_fifth)
    outcome = emails_send(message_ids=ids)

    # Group one went out; in group two the fifth broke the connection: it
    # counts as tried, the sixth was never handed over, nor was group three.
    assert outcome == {
        **dict.fromkeys(ids[:4], "sent"),
        **dict.fromkeys(ids[4:], "pending"),
    }
    rows = dict(customer_emails().values_list("pk", "attempts"))
    assert [rows[pk] for pk in ids] == [1, 1, 1, 1, 1, 0, 0]
    lefts = dict(customer_emails().values_list("pk", "attempts_left"))
    assert [lefts[pk] for pk in ids] == [9, 9, 9, 9, 9, 10, 10]
    tried = customer_emails().get(pk=ids[4])
    assert "SMTPServerDisconnected" in tried.last_error
    assert tried.attempt_log.count() == 1
    assert not OutboundAttempt.objects.exclude(message_id=ids[4]).exists()
    assert len(smtp_server.messages) == 4

    monkeypatch.setattr(smtplib.SMTP, "sendmail", send)
    # The untried are due at once; the tried one after its back-off.
    again = emails_send(message_ids=ids)
    assert again == dict.fromkeys(ids[5:], "sent")
    customer_emails(pk=ids[4]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert emails_send(message_ids=ids) == {ids[4]: "sent"}

    assert len(smtp_server.messages) == 7
    assert set(smtp_server.keys.values()) == {1}
    rows = dict(customer_emails().values_list("pk", "attempts"))
    assert [rows[pk] for pk in ids] == [1, 1, 1, 1, 2, 1, 1]


@pytest.mark.django_db
def test_refused_message_is_retried_and_the_batch_goes_on(
    smtp_server, many_orders, monkeypatch
):
    ids = _queue(many_orders(4))
    refused = customer_emails().get(pk=ids[1]).to
    send = smtplib.SMTP.sendmail

    def refusing_one(client, sender, recipients, message, *args):
        if refused in recipients:
            raise smtplib.SMTPRecipientsRefused({refused: (550, b"No such user")})
        return send(client, sender, recipients, message, *args)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", refusing_one)
    outcome = emails_send(message_ids=ids)

    assert outcome == {**dict.fromkeys(ids, "sent"), ids[1]: "pending"}
    assert smtp_server.connections == 1 and len(smtp_server.messages) == 3
    email = customer_emails().get(pk=ids[1])
    assert (email.status, email.attempts) == ("pending", 1)
    assert "SMTPRecipientsRefused" in email.last_error
    assert email.attempt_log.count() == 1
    # Refusing one message is not the server being down.
    assert not OutboxDestination.objects.filter(key="email").exists()


@pytest.mark.django_db(transaction=True)
def test_mail_is_sent_outside_any_transaction(
    smtp_server, product, stock, place_order, monkeypatch
):
    from django.db import connection

    seen = []
    send = smtplib.SMTP.sendmail

    def watching(client, *args, **kwargs):
        seen.append(connection.in_atomic_block)
        return send(client, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", watching)
    stock(product, 5)

    place_order([(product, 1)])  # commits: the e-mail task runs after commit

    assert seen == [False]
    assert len(smtp_server.messages) == 1
    assert customer_emails().get().status == "sent"


@pytest.mark.django_db
def test_unreachable_mail_server_pauses_the_destination_spending_no_attempt(
    settings, many_orders
):
    from tests.support.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = False
    ids = _queue(many_orders(3))

    outcome = emails_send(message_ids=ids)

    assert outcome == dict.fromkeys(ids, "pending")
    destination = OutboxDestination.objects.get(key="email")
    assert destination.failures == 1
    assert "ConnectionRefusedError" in destination.last_error
    low, high = _backoff_bounds(1)
    assert low <= destination.paused_until - timezone.now() <= high
    # The batch waits for the pause to end, no attempt spent or logged.
    assert set(
        customer_emails().values_list(
            "status", "attempts", "attempts_left", "claimed_by", "next_attempt_at"
        )
    ) == {("pending", 0, 10, "", destination.paused_until)}
    assert "ConnectionRefusedError" in customer_emails().first().last_error
    assert not OutboundAttempt.objects.exists()

    # While paused, nothing is tried: not by a wake-up, not by the sweep.
    assert emails_send(message_ids=ids) == {}
    assert outbox_send_due_run() == 0
    assert OutboxDestination.objects.get(key="email").failures == 1

    # Still down when the pause ends: a longer pause, still no attempt spent.
    customer_emails().update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    OutboxDestination.objects.update(paused_until=timezone.now())
    assert outbox_send_due_run() == 3
    destination = OutboxDestination.objects.get(key="email")
    assert destination.failures == 2
    low, high = _backoff_bounds(2)
    assert low <= destination.paused_until - timezone.now() <= high
    assert set(customer_emails().values_list("status", "attempts")) == {("pending", 0)}
    assert not OutboundAttempt.objects.exists()


@pytest.mark.django_db
def test_next_connection_to_the_mail_server_clears_its_pause(smtp_server, many_orders):
    from connections.outbox.destinations import destination_pause

    ids = _queue(many_orders(3))
    destination_pause("email", error="ConnectionRefusedError: down")
    until = destination_pause("email", error="ConnectionRefusedError: down")
    assert emails_send(message_ids=ids) == {}  # paused: waits
    assert len(smtp_server.messages) == 0
    assert set(customer_emails().values_list("next_attempt_at", flat=True)) == {until}

    # The pause ends; the next batch connects and the pause is forgotten.
    OutboxDestination.objects.update(paused_until=timezone.now())
    customer_emails().update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbox_send_due_run() == 3

    destination = OutboxDestination.objects.get(key="email")
    assert (destination.failures, destination.paused_until) == (0, None)
    assert destination.last_error == ""
    assert set(customer_emails().values_list("status", "attempts")) == {("sent", 1)}
    assert len(smtp_server.messages) == 3 and set(smtp_server.keys.values()) == {1}


@pytest.mark.django_db
def test_sweep_sends_mails_left_behind_without_a_wake_up(smtp_server, many_orders):
    # Queued, but the process died before its sender was woken.
    ids = _queue(many_orders(3))

    assert outbox_send_due_run() == 3

    assert set(customer_emails().values_list("status", flat=True)) == {"sent"}
    assert set(smtp_server.keys.values()) == {1} and len(smtp_server.messages) == 3
    assert outbox_send_due_run() == 0
    assert sorted(customer_emails().values_list("pk", flat=True)) == ids


@pytest.mark.django_db
def test_with_a_queue_the_sweep_leaves_fresh_mails_to_their_wake_up(
    settings, smtp_server, many_orders
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    settings.OMS_TASKS_BACKEND = "database"
    ids = _queue(many_orders(3))
    jobs = ProcrastinateJob.objects.filter(task_name__endswith="outbox_send_many_task")
    jobs.delete()
    assert outbox_send_due_run() == 0  # their wake-up may still come

    # Overdue by more than the grace: the wake-up was lost; the sweep wakes.
    later = timezone.now() + sending.QUEUED_GRACE + timedelta(seconds=1)
    assert outbox_send_due_run(now=later) == 3
    (job,) = jobs
    assert sorted(job.args["message_ids"]) == ids
    assert outbox_send_many_task(**job.args) == 3
    assert len(smtp_server.messages) == 3 and set(smtp_server.keys.values()) == {1}


@pytest.mark.django_db
def test_attachments_go_with_their_kind_of_mail(smtp_server, many_orders, monkeypatch):
    from email import message_from_bytes, policy

    from orders.emails import render

    (order,) = many_orders(1)
    seen = []

    def label(email):
        seen.append((email.order_id, email.kind))
        return [(f"label-{email.order_id}.pdf", b"%PDF-1.4 label", "application/pdf")]

    monkeypatch.setitem(render.attachment_providers, EmailKind.RECEIVED, label)
    ids = _queue([order])

    assert emails_send(message_ids=ids) == {ids[0]: "sent"}

    assert seen == [(order.pk, EmailKind.RECEIVED)]
    (received,) = smtp_server.messages
    got = message_from_bytes(received.content, policy=policy.default)
    (attachment,) = got.iter_attachments()
    assert attachment.get_filename() == f"label-{order.pk}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 label"
    body = got.get_body(preferencelist=("plain",))
    assert order.number in body.get_content()


@pytest.mark.django_db
def test_an_e_mail_that_cannot_be_written_spends_its_attempt_alone(
    smtp_server, many_orders, monkeypatch
):
    from orders.emails import render

    orders = many_orders(3)
    broken = orders[1]

    def label(email):
        if email.order_id == broken.pk:
            raise FileNotFoundError("labels/gone.pdf")
        return []

    monkeypatch.setitem(render.attachment_providers, EmailKind.RECEIVED, label)
    ids = _queue(orders)

    outcome = emails_send(message_ids=ids)

    # The mail server is not taken for down: the two others went out.
    assert len(smtp_server.messages) == 2
    assert sorted(outcome.values()) == ["pending", "sent", "sent"]
    failed = customer_emails(order=broken).get()
    assert (failed.status, failed.attempts, failed.attempts_left) == ("pending", 1, 9)
    assert "FileNotFoundError" in failed.last_error
    assert failed.attempt_log.get().error == failed.last_error
    assert not OutboxDestination.objects.filter(failures__gt=0).exists()


@pytest.mark.django_db
def test_plain_text_parts_are_not_html_escaped(
    customer, product, stock, place_order, django_capture_on_commit_callbacks
):
    customer.name = "Tom & Jerry <Ltd>"
    customer.save()
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        place_order([(product, 1)])

    message = mail.outbox[0]
    assert "Hello Tom & Jerry <Ltd>," in message.body
    html, _ = message.alternatives[0]
    assert "Hello Tom &amp; Jerry &lt;Ltd&gt;," in html


@pytest.mark.django_db
def test_the_server_receives_the_message_django_would_build(
    smtp_server, customer, product, stock, place_order, monkeypatch
):
    """Over SMTP the bytes are written by orders.mime, not by Django's MIME
    classes: a mail reader must find the same headers, parts and texts."""
    from email import message_from_bytes, policy

    from orders.emails import customer_emails_render

    customer.name = "Zoë Ça & Co"
    customer.email = "zoe@exämple.com"
    customer.save()
    stock(product, 5)
    order = place_order([(product, 2)])
    message = customer_emails(order=order).get()
    to_send = email_engine._to_send(message)
    expected = customer_emails_render([to_send])[message.pk]
    expected.subject = "Ihre Bestellung “ist da” — ça va"  # non-ASCII header
    monkeypatch.setattr(
        email_engine, "customer_emails_render", lambda batch: {message.pk: expected}
    )

    assert emails_send(message_ids=[message.pk]) == {message.pk: "sent"}

    (received,) = smtp_server.messages
    assert received.to == ["zoe@xn--exmple-cua.com"]
    got = message_from_bytes(received.content, policy=policy.default)
    # As Django's SMTP backend would have sent it.
    django = message_from_bytes(
        expected.message().as_bytes(linesep="\r\n"), policy=policy.default
    )
    for header in ("Subject", "From", "To", "X-OMS-Email", "MIME-Version"):
        assert got[header] == django[header]
    assert got["X-OMS-Email"] == f"email.order_received:{order.pk}:"
    assert got.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content()) for p in got.iter_parts()]
    assert parts == [
        (p.get_content_type(), p.get_content()) for p in django.iter_parts()
    ]
    assert "Hello Zoë Ça & Co," in parts[0][1]
    assert "Zoë Ça &amp; Co" in parts[1][1]
    assert got["Date"] and got["Message-ID"]


def test_messages_of_another_shape_are_left_to_django():
    from django.core.mail import EmailMultiAlternatives

    from orders.mime import smtp_bytes

    def message(**kwargs):
        built = EmailMultiAlternatives(
            subject="s", body="text", from_email="a@example.com", to=["b@example.com"]
        )
        built.attach_alternative("<p>html</p>", "text/html")
        for name, value in kwargs.items():
            setattr(built, name, value)
        return built

    assert smtp_bytes(message()) is not None
    assert smtp_bytes(message(body="x" * 1000)) is None  # Django: quoted-printable
    attachment = ("a.pdf", b"%PDF", "application/pdf")
    assert smtp_bytes(message(attachments=[attachment])) is None
    assert smtp_bytes(message(cc=["c@example.com"])) is None
    assert smtp_bytes(message(alternatives=[])) is None
