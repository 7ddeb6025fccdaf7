"""Shipping updates to the sales channel, against a real local HTTP server."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from fulfillment import webhooks
from fulfillment.models import Shipment, WebhookDelivery
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
    delivery = WebhookDelivery.objects.get()
    assert (delivery.response_code, delivery.succeeded, delivery.attempt) == (
        200,
        True,
        1,
    )
    assert delivery.shipment == shipment and delivery.payload == body


def test_a_failing_channel_is_retried_later_not_waited_for(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening(codes=(503, 200)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        # One attempt in the request; the retry is scheduled, not slept on.
        assert len(server.received) == 1
        first = WebhookDelivery.objects.get()
        assert (first.response_code, first.succeeded) == (503, False)
        assert first.error == "HTTP 503 Service Unavailable"
        wait = (first.next_attempt_at - first.created_at).total_seconds()
        assert 55 <= wait <= 65

        assert webhooks.webhooks_retry() == 0  # not due yet
        tried = webhooks.webhooks_retry(now=timezone.now() + timedelta(minutes=2))

    assert tried == 1
    assert len(server.received) == 2
    assert server.received[0]["body"] == server.received[1]["body"]
    # One message, two attempts: the same webhook-id, so the channel can dedupe.
    assert server.received[0]["id"] == server.received[1]["id"]
    attempts = list(
        WebhookDelivery.objects.order_by("attempt").values_list(
            "attempt", "response_code", "succeeded", "next_attempt_at"
        )
    )
    assert attempts == [(1, 503, False, None), (2, 200, True, None)]


def test_a_due_retry_is_sent_once_however_often_it_is_swept(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(minutes=2)
    with listening(codes=(500, 200)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        failed = WebhookDelivery.objects.get()
        assert webhooks.webhooks_retry(now=later) == 1
        assert webhooks.webhooks_retry(now=later) == 0
        # A late queued retry of the same attempt finds it taken.
        assert webhooks.channel_webhook_send_task.call(
            **webhooks._retry_arguments(failed)
        )
    assert len(server.received) == 2
    assert WebhookDelivery.objects.count() == 2


def test_a_channel_that_stays_down_gets_a_bounded_number_of_tries(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with listening(codes=(500,)) as server:
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        moment = timezone.now()
        for _ in range(webhooks.MAX_ATTEMPTS + 2):
            moment += timedelta(hours=1)
            webhooks.webhooks_retry(now=moment)
    assert len(server.received) == webhooks.MAX_ATTEMPTS
    assert not WebhookDelivery.objects.filter(succeeded=True).exists()
    last = WebhookDelivery.objects.get(attempt=webhooks.MAX_ATTEMPTS)
    assert last.next_attempt_at is None  # given up: visible as failed
    assert not WebhookDelivery.objects.filter(next_attempt_at__isnull=False).exists()


def test_an_attempt_whose_sender_died_is_taken_up_again(
    listening, shipped, product, channel
):
    order = shipped([(product, 1)])
    # What a process killed mid-POST leaves behind: the attempt, no answer.
    with listening() as server:
        stuck = WebhookDelivery.objects.create(
            channel=channel,
            order=order,
            event="shipment.shipped",
            url=channel.webhook_url,
            payload={"event": "shipment.shipped"},
            message_id="msg_stuck",
            error=webhooks.SENDING,
            next_attempt_at=timezone.now() + webhooks.SENDING_LEASE,
        )
        assert webhooks.webhooks_retry() == 0  # still within its lease
        later = timezone.now() + webhooks.SENDING_LEASE + timedelta(seconds=1)
        assert webhooks.webhooks_retry(now=later) == 1
    [received] = server.received
    assert received["id"] == "msg_stuck"
    stuck.refresh_from_db()
    assert stuck.next_attempt_at is None
    assert WebhookDelivery.objects.get(attempt=2).succeeded


def test_delivery_refuses_to_run_inside_a_transaction(channel, shipped, product):
    order = shipped([(product, 1)])
    channel.webhook_url = "http://127.0.0.1:9/never"
    channel.save()
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        webhooks.channel_webhook_deliver(
            channel_id=channel.pk,
            order_id=order.pk,
            shipment_id=None,
            event="shipment.shipped",
            payload={},
        )


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
    headers = webhooks.sign_headers(
        body=body, secret=SECRET, message_id="msg_1", at=old
    )
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(body, headers)
    fresh = webhooks.sign_headers(body=body, secret=SECRET, message_id="msg_1")
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
    delivery = WebhookDelivery.objects.order_by("attempt").first()
    assert delivery.response_code is None
    assert "Connection refused" in delivery.error or "URLError" in delivery.error


def test_with_a_queue_the_retry_waits_with_backoff(
    settings, listening, shipped, product, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from fulfillment.webhooks import channel_webhook_send_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    sends = DBTaskResult.objects.filter(task_path__endswith="channel_webhook_send_task")
    with listening(codes=(502,)):
        with django_capture_on_commit_callbacks(execute=True):
            shipped([(product, 1)])
        queued = sends.get()
        assert queued.args_kwargs["kwargs"]["attempt"] == 1
        # What the worker does with it: the POST fails, the retry waits.
        channel_webhook_send_task.call(**queued.args_kwargs["kwargs"])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempt, delivery.response_code) == (1, 502)
    retry = sends.exclude(pk=queued.pk).get()
    assert retry.args_kwargs["kwargs"]["attempt"] == 2
    wait = (retry.run_after - delivery.created_at).total_seconds()
    assert 55 <= wait <= 65


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
    assert not WebhookDelivery.objects.exists()
