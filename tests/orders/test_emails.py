"""Customer e-mails: once per event, after commit, retried, on the timeline."""

import pytest
from django.core import mail

from orders.emails import customer_email_queue, customer_emails_send_task
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
    customer_emails_send_task.enqueue(email_ids=[email.pk])
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


@pytest.mark.django_db
def test_smtp_failure_is_retried_until_it_goes_through(
    settings, product, stock, place_order, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.support.mail.FlakyBackend"
    FlakyBackend.failures = 2
    stock(product, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order([(product, 1)])

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
