"""Signed shipment webhooks to the sales channel through the outbox, against a
real local HTTP server."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from connections.generic.webhooks import sign_headers
from connections.models import OutboundAttempt, OutboundMessage, OutboxDestination
from connections.outbox.rules import max_attempts
from connections.outbox.sending import (
    outbox_send,
    outbox_send_due_run,
    outbox_send_many_task,
    sending_lease,
)
from fulfillment.models import Shipment
from fulfillment.services.tracking import tracking_event_record
from orders.services.channels import channel_secret_generate, channel_secret_standard

pytestmark = pytest.mark.django_db

SECRET = channel_secret_generate()


class ChannelServer:
    """A sales channel's endpoint: verifies the Standard Webhooks signature
    (as README shows), answers shipment updates with the codes it is given
    (the last one repeats), keeps the shipment updates it received."""

    def __init__(self, codes=(200,), secret=SECRET):
        self.codes = list(codes)
        self.received: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not self.headers["X-OMS-Event"].startswith("shipment."):
                    # The outbox's order and stock events: not these tests' topic.
                    self.send_response(200)
                    self.end_headers()
                    return
                try:
                    Webhook(secret).verify(body, dict(self.headers))
                    signed = True
                except WebhookVerificationError:
                    signed = False
                server.received.append(
                    {
                        "signed": signed,
                        "id": self.headers.get("webhook-id"),
                        "event": self.headers["X-OMS-Event"],
                        "body": json.loads(body),
                    }
                )
                code = server.codes.pop(0) if len(server.codes) > 1 else server.codes[0]
                self.send_response(code if signed else 401)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oms/shipping"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def listening(channel):
    def connect(codes=(200,)):
        server = ChannelServer(codes)
        channel.webhook_url = server.url
        channel.webhook_secret = SECRET
        channel.save()
        return server

    return connect


Status = OutboundMessage.Status
WEBHOOK_KINDS = ["shipment.shipped", "shipment.tracking_updated", "shipment.delivered"]


def webhooks():
    """The shipment webhook messages in the outbox, oldest first."""
    return OutboundMessage.objects.filter(kind__in=WEBHOOK_KINDS).order_by("pk")


def attempts(message):
    return list(
        OutboundAttempt.objects.filter(message=message)
        .order_by("number")
        .values_list("number", "response_code", "succeeded")
    )


def test_shipping_posts_a_signed_update_to_the_channel(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening() as server, django_capture_on_commit_callbacks(execute=True):
        order = shipped([(product, 2)])

    shipment = Shipment.objects.get(order=order)
    [received] = server.received
    assert received["signed"] is True
    assert received["event"] == "shipment.shipped"
    body = received["body"]
    assert sorted(body) == ["event", "lines", "occurred_at", "order", "shipment"]
    assert body["order"] == {
        "number": order.number,
        "external_id": order.external_id,
        "status": "shipped",
    }
    assert body["lines"] == [
        {"sku": "TSH-BLK-M", "name": "T-shirt black M", "quantity": 2}
    ]
    assert body["shipment"]["carrier"] == {"code": "pex", "name": "Parcel Express"}
    assert body["shipment"]["tracking_number"] == shipment.tracking_number
    assert body["shipment"]["tracking_url"] == (
        f"https://track.example/{shipment.tracking_number}"
    )
    assert body["shipment"]["status"] == "shipped"
    [message] = webhooks()
    assert (message.status, message.response_code, message.attempts) == (
        Status.SENT,
        200,
        1,
    )
    assert message.shipment == shipment and message.payload == body
    assert received["id"] == message.message_id
    assert attempts(message) == [(1, 200, True)]


def test_the_webhook_is_recorded_in_the_transaction_and_survives_a_lost_enqueue(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    # The process dies between commit and enqueue: no task was ever queued.
    with listening() as server:
        with django_capture_on_commit_callbacks(execute=False):
            shipped([(product, 1)])
        [message] = webhooks()
        assert message.status == Status.PENDING and server.received == []

        assert outbox_send_due_run() >= 1  # the periodic sweep takes it up

    [received] = server.received
    assert received["event"] == "shipment.shipped"
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_failing_channel_is_retried_later_not_waited_for(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening(codes=(503, 200)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        # One attempt in the request; the retry is scheduled, not slept on.
        assert len(server.received) == 1
        [first] = webhooks()
        assert (first.status, first.response_code) == (Status.PENDING, 503)
        assert first.last_error == "The channel answered HTTP 503 Service Unavailable."
        [attempt] = first.attempt_log.all()
        wait = (first.next_attempt_at - attempt.started_at).total_seconds()
        assert 48 <= wait <= 72  # a minute, ±20 % jitter

        assert outbox_send_due_run() == 0  # not due yet
        tried = outbox_send_due_run(now=timezone.now() + timedelta(minutes=2))

    assert tried == 1
    assert len(server.received) == 2
    assert server.received[0]["body"] == server.received[1]["body"]
    # One message, two attempts: the same webhook-id, so the channel can dedupe.
    assert server.received[0]["id"] == server.received[1]["id"]
    first.refresh_from_db()
    assert (first.status, first.next_attempt_at) == (Status.SENT, None)
    assert attempts(first) == [(1, 503, False), (2, 200, True)]


def test_a_due_retry_is_sent_once_however_often_it_is_swept(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(minutes=2)
    with listening(codes=(500, 200)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        [failed] = webhooks()
        assert outbox_send_due_run(now=later) == 1
        assert outbox_send_due_run(now=later) == 0
        # A late queued retry of the same message finds it sent.
        assert outbox_send_many_task(message_ids=[failed.pk]) == 0
    assert len(server.received) == 2
    assert OutboundAttempt.objects.filter(message=failed).count() == 2


def test_a_channel_that_stays_down_gets_a_bounded_number_of_tries(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening(codes=(500,)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        moment = timezone.now()
        for _ in range(max_attempts() + 2):
            moment += timedelta(hours=1)
            outbox_send_due_run(now=moment)
    assert len(server.received) == max_attempts()
    [message] = webhooks()
    # Given up: visible as failed, with Replay.
    assert (message.status, message.next_attempt_at) == (Status.FAILED, None)
    assert not message.attempt_log.filter(succeeded=True).exists()


def test_an_attempt_whose_sender_died_is_taken_up_again(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening() as server:
        with django_capture_on_commit_callbacks(execute=False):
            shipped([(product, 1)])
        # What a process killed mid-POST leaves behind: sending, no answer.
        message = webhooks().get()
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=Status.SENDING,
            attempts=1,
            next_attempt_at=timezone.now() + sending_lease(),
        )
        outbox_send_due_run()  # still within its lease: left alone
        message.refresh_from_db()
        assert message.status == Status.SENDING and server.received == []
        later = timezone.now() + sending_lease() + timedelta(seconds=1)
        assert outbox_send_due_run(now=later) == 1
    [received] = server.received
    assert received["id"] == message.message_id
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)


def test_delivery_refuses_to_run_inside_a_transaction(
    channel, shipped, product, django_capture_on_commit_callbacks
):
    channel.webhook_url = "http://127.0.0.1:9/never"
    channel.save()
    with django_capture_on_commit_callbacks(execute=False):
        shipped([(product, 1)])
    message = webhooks().get()
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        outbox_send(message_id=message.pk)


def test_a_plain_secret_set_before_signs_with_its_bytes(
    channel, shipped, product, django_capture_on_commit_callbacks
):
    with ChannelServer(secret=b"legacy-secret") as server:
        channel.webhook_url = server.url
        channel.webhook_secret = "legacy-secret"
        channel.save()
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
    [received] = server.received
    assert received["signed"] is True
    assert channel_secret_standard("legacy-secret") == ("whsec_bGVnYWN5LXNlY3JldA==")


def test_a_replayed_or_altered_webhook_is_refused_by_the_receiver():
    body = b'{"event":"shipment.shipped"}'
    old = datetime.now(UTC) - timedelta(minutes=10)
    headers = sign_headers(body=body, secret=SECRET, message_id="msg_1", at=old)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(body, headers)
    fresh = sign_headers(body=body, secret=SECRET, message_id="msg_1")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", fresh)
    assert Webhook(SECRET).verify(body, fresh) == {"event": "shipment.shipped"}


def test_unreachable_channel_is_logged_with_the_error(
    channel, shipped, product, django_capture_on_commit_callbacks
):
    server = ChannelServer()  # never started: nothing listens
    channel.webhook_url = server.url
    channel.save()
    server.httpd.server_close()
    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])
    message = webhooks().get()
    assert message.status == Status.PENDING
    # The first message to the channel found it down and paused it: the
    # others wait for the pause to end, spending no attempt.
    tried = OutboundAttempt.objects.filter(message__channel=channel).get()
    assert tried.response_code is None
    assert "Connection refused" in tried.error or "URLError" in tried.error
    pause = OutboxDestination.objects.get(key=f"channel:{channel.pk}")
    assert pause.failures == 1 and pause.last_error == tried.error
    assert message.next_attempt_at >= pause.paused_until


def test_with_a_queue_the_retry_waits_with_backoff(
    settings, listening, shipped, product, django_capture_on_commit_callbacks
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    settings.OMS_TASKS_BACKEND = "database"
    sends = ProcrastinateJob.objects.filter(task_name__endswith="outbox_send_many_task")
    with listening(codes=(502,)):
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        message = webhooks().get()
        queued = sends.get(args__message_ids=[message.pk])
        # What the worker does with it: the POST fails, the retry waits.
        outbox_send_many_task(**queued.args)
    message.refresh_from_db()
    assert (message.attempts, message.response_code) == (1, 502)
    retry = sends.exclude(pk=queued.pk).get(args__message_ids=[message.pk])
    [attempt] = message.attempt_log.all()
    wait = (retry.scheduled_at - attempt.started_at).total_seconds()
    assert 48 <= wait <= 72  # a minute, ±20 % jitter


def test_tracking_news_is_posted_with_the_new_status(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    order = shipped([(product, 1)])
    shipment = Shipment.objects.get(order=order)
    with listening() as server, django_capture_on_commit_callbacks(execute=True):
        tracking_event_record(
            shipment=shipment,
            status="exception",
            exception_reason="address",
            occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
            actor=None,
        )
    [received] = server.received
    assert received["event"] == "shipment.tracking_updated"
    assert received["body"]["shipment"]["status"] == "exception"
    assert received["body"]["shipment"]["exception_reason"] == "address"


def test_channel_without_webhook_url_is_not_called(
    shipped, product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shipped([(product, 1)])
    assert not webhooks().exists()


def test_a_failed_webhook_is_replayed_from_the_admin_with_its_webhook_id(
    listening, shipped, product, admin_client, django_capture_on_commit_callbacks
):
    with listening(codes=(400, 200)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        message = webhooks().get()
        assert message.status == Status.FAILED  # 400: the channel refused it

        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/connections/outboundmessage/",
                {"action": "replay", "_selected_action": [message.pk]},
                follow=True,
            )

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert [received["id"] for received in server.received] == [message.message_id] * 2
