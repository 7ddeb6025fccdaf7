"""Customer e-mails: once per event, after commit, retried, on the timeline."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.emails import (
    customer_email_queue,
    customer_emails_send_task,
    customer_emails_sweep_task,
)
from orders.models import CustomerEmail, OrderEvent
from orders.services.lifecycle import order_cancel
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


@pytest.mark.django_db
def test_nothing_is_sent_before_the_transaction_commits(product, stock, place_order):
    stock(product, 5)
    place_order([(product, 1)])  # the test transaction never commits
    assert mail.outbox == []
    assert CustomerEmail.objects.get().status == "queued"


@pytest.mark.django_db
def test_the_same_event_is_never_mailed_twice(
    placed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        again = customer_email_queue(order=placed, kind="order_received")
    assert again is None
    email = CustomerEmail.objects.get()
    customer_emails_send_task(email_ids=[email.pk])
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
    assert mail.outbox == [] and not CustomerEmail.objects.exists()


def _retry_when_due(order, *, times: int) -> None:
    """Let each back-off pass and run the periodic sweep, `times` times."""
    for _ in range(times):
        CustomerEmail.objects.filter(order=order).update(
            claimed_at=timezone.now() - timedelta(days=1)
        )
        customer_emails_sweep_task()


@pytest.mark.django_db
def test_smtp_failure_is_retried_until_it_goes_through(
    settings, product, stock, place_order, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    FlakyBackend.failures = 2
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])
    # Retries are scheduled, never immediate: the sweep sends them when due.
    _retry_when_due(order, times=2)

    email = CustomerEmail.objects.get(order=order)
    assert (email.status, email.attempts) == ("sent", 3)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_mail_that_keeps_failing_is_marked_failed_on_the_timeline(
    settings, product, stock, place_order, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    FlakyBackend.failures = 99
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])
    _retry_when_due(order, times=6)
    FlakyBackend.failures = 0

    email = CustomerEmail.objects.get(order=order)
    assert (email.status, email.attempts) == ("failed", 5)
    assert "SMTPServerDisconnected" in email.last_error
    assert OrderEvent.objects.filter(
        order=order, kind="email", message__contains="failed"
    ).exists()


@pytest.mark.django_db
def test_cancellation_mail_gives_the_reason(
    placed, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=placed, actor=user, reason="out of stock for weeks")
    message = mail.outbox[-1]
    assert message.subject == f"Your order {placed.number} was cancelled"
    assert "(out of stock for weeks)" in message.body


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
        CustomerEmail.objects.all().delete()
        return orders

    return place


@pytest.mark.django_db
def test_bulk_queued_mails_go_out_in_batches_over_one_connection_each(
    smtp_server, many_orders, django_capture_on_commit_callbacks, monkeypatch
):
    from orders.emails import queue

    monkeypatch.setattr(queue, "EMAIL_BATCH", 10)
    orders = many_orders(25)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = queue.customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind="order_received"
        )

    assert queued == 25
    assert len(callbacks) == 3  # one send task per batch of 10, not per e-mail
    assert smtp_server.connections == 3
    assert len(smtp_server.messages) == 25
    assert set(smtp_server.keys.values()) == {1}
    assert CustomerEmail.objects.filter(status="sent").count() == 25
    assert OrderEvent.objects.filter(kind="email").count() == 25


@pytest.mark.django_db
def test_a_batch_sent_again_sends_nothing_twice(
    smtp_server, many_orders, django_capture_on_commit_callbacks
):
    from orders.emails import customer_emails_queue_many

    orders = many_orders(5)
    with django_capture_on_commit_callbacks(execute=True):
        customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind="order_received"
        )
        # The same event queued again (a retried import) adds nothing.
        again = customer_emails_queue_many(
            order_ids=[o.pk for o in orders], kind="order_received"
        )
    ids = list(CustomerEmail.objects.values_list("pk", flat=True))

    outcome = customer_emails_send_task(email_ids=ids)

    assert again == 0
    assert outcome == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp_server.messages) == 5
    assert set(smtp_server.keys.values()) == {1}


@pytest.mark.django_db
def test_worker_dying_mid_batch_loses_at_most_the_group_in_flight_and_never_doubles(
    smtp_server, many_orders, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from orders import emails
    from orders.emails import sending

    monkeypatch.setattr(sending, "EMAIL_SEND_GROUP", 2)
    orders = many_orders(7)
    emails.customer_emails_queue_many(
        order_ids=[o.pk for o in orders], kind="order_received"
    )
    ids = sorted(CustomerEmail.objects.values_list("pk", flat=True))
    step = sending._step

    class WorkerKilled(BaseException):
        pass

    def die_after_sending_the_second_group(accepted, group, token):
        if ids[2] in {email.pk for email in accepted}:
            raise WorkerKilled  # sent to the server, not yet marked sent
        return step(accepted, group, token)

    monkeypatch.setattr(sending, "_step", die_after_sending_the_second_group)
    with pytest.raises(WorkerKilled):
        emails.customer_emails_send(email_ids=ids)
    monkeypatch.setattr(sending, "_step", step)
    statuses = dict(CustomerEmail.objects.values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent"] * 2 + ["sending"] * 2 + [
        "claimed"
    ] * 3
    assert len(smtp_server.messages) == 4

    # A run right away leaves another batch's claims alone ...
    assert emails.customer_emails_send(email_ids=ids) == {}
    # ... and once the claim is stale, takes the untried ones over.
    CustomerEmail.objects.filter(pk__in=ids).update(
        claimed_at=timezone.now() - timedelta(hours=1)
    )
    outcome = emails.customer_emails_send(email_ids=ids)

    assert outcome == dict.fromkeys(ids[4:], "sent")
    for pk in ids[2:4]:
        in_flight = CustomerEmail.objects.get(pk=pk)
        assert in_flight.status == "failed" and "may have been delivered" in (
            in_flight.last_error
        )
        assert OrderEvent.objects.filter(
            order_id=in_flight.order_id, kind="email", data__failed=True
        ).exists()
    assert len(smtp_server.messages) == 7
    assert set(smtp_server.keys.values()) == {1}
    assert CustomerEmail.objects.filter(status="sent").count() == 5
    assert (
        OrderEvent.objects.filter(kind="email", message__contains=" sent to ").count()
        == 5
    )


@pytest.mark.django_db
def test_connection_lost_mid_group_gives_the_untried_back_and_sends_them_later(
    smtp_server, many_orders, monkeypatch
):
    import smtplib

    from orders import emails
    from orders.emails import sending

    monkeypatch.setattr(sending, "EMAIL_SEND_GROUP", 3)
    orders = many_orders(7)
    emails.customer_emails_queue_many(
        order_ids=[o.pk for o in orders], kind="order_received"
    )
    ids = sorted(CustomerEmail.objects.values_list("pk", flat=True))
    send = smtplib.SMTP.sendmail
    handed = []

    def breaking_on_the_fifth(client, sender, recipients, message, *args):
        handed.append(message)
        if len(handed) == 5:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return send(client, sender, recipients, message, *args)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", breaking_on_the_fifth)
    outcome = emails.customer_emails_send(email_ids=ids)

    # Group one went out; in group two the fifth broke the connection: it
    # counts as tried, the sixth was never handed over, nor was group three.
    assert outcome == {
        **dict.fromkeys(ids[:4], "sent"),
        **dict.fromkeys(ids[4:], "queued"),
    }
    rows = dict(CustomerEmail.objects.values_list("pk", "attempts"))
    assert [rows[pk] for pk in ids] == [1, 1, 1, 1, 1, 0, 0]
    assert len(smtp_server.messages) == 4

    monkeypatch.setattr(smtplib.SMTP, "sendmail", send)
    again = emails.customer_emails_send(email_ids=ids)

    assert again == dict.fromkeys(ids[4:], "sent")
    assert len(smtp_server.messages) == 7
    assert set(smtp_server.keys.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_mail_is_sent_outside_any_transaction(
    smtp_server, product, stock, place_order, monkeypatch
):
    import smtplib

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
    assert CustomerEmail.objects.get().status == "sent"


@pytest.mark.django_db
def test_unreachable_mail_server_keeps_the_batch_queued_for_a_retry(
    settings, many_orders, monkeypatch
):
    from orders import emails
    from tests.support.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = False
    orders = many_orders(3)
    emails.customer_emails_queue_many(
        order_ids=[o.pk for o in orders], kind="order_received"
    )
    ids = list(CustomerEmail.objects.values_list("pk", flat=True))

    outcome = emails.customer_emails_send(email_ids=ids)

    assert set(outcome.values()) == {"queued"}
    assert set(CustomerEmail.objects.values_list("status", "attempts")) == {
        ("queued", 1)
    }
    assert "ConnectionRefusedError" in CustomerEmail.objects.first().last_error


@pytest.mark.django_db
def test_sweep_sends_mails_left_behind_without_a_task(smtp_server, many_orders):
    from datetime import timedelta

    from django.utils import timezone

    from orders.emails import customer_emails_queue_many, customer_emails_sweep_task

    orders = many_orders(3)
    # Queued, but the process died before its send task was enqueued.
    customer_emails_queue_many(order_ids=[o.pk for o in orders], kind="order_received")
    assert customer_emails_sweep_task() == 0  # not stale yet
    CustomerEmail.objects.update(created_at=timezone.now() - timedelta(hours=1))

    found = customer_emails_sweep_task()

    assert found == 3
    assert set(CustomerEmail.objects.values_list("status", flat=True)) == {"sent"}
    assert set(smtp_server.keys.values()) == {1} and len(smtp_server.messages) == 3


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

    from orders import emails
    from orders.emails import sending

    customer.name = "Zoë Ça & Co"
    customer.email = "zoe@exämple.com"
    customer.save()
    stock(product, 5)
    order = place_order([(product, 2)])
    email = CustomerEmail.objects.get(order=order)
    expected = emails.customer_emails_render([email])[email.pk]
    expected.subject = "Ihre Bestellung “ist da” — ça va"  # non-ASCII header
    monkeypatch.setattr(
        sending, "customer_emails_render", lambda batch: {email.pk: expected}
    )

    assert emails.customer_emails_send(email_ids=[email.pk]) == {email.pk: "sent"}

    (received,) = smtp_server.messages
    assert received.to == ["zoe@xn--exmple-cua.com"]
    got = message_from_bytes(received.content, policy=policy.default)
    # As Django's SMTP backend would have sent it.
    django = message_from_bytes(
        expected.message().as_bytes(linesep="\r\n"), policy=policy.default
    )
    for header in ("Subject", "From", "To", "X-OMS-Email", "MIME-Version"):
        assert got[header] == django[header]
    assert got["Subject"] == "Ihre Bestellung “ist da” — ça va"
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
