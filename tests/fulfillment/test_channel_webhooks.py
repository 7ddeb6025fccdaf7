"""Shipping updates to the sales channel, against a real local HTTP server."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fulfillment import webhooks
from fulfillment.models import Shipment, WebhookDelivery
from fulfillment.services.tracking import tracking_event_record

pytestmark = pytest.mark.django_db

SECRET = "channel-secret"


class ChannelServer:
    """A sales channel's endpoint: checks the signature, answers with the
    codes it is given (the last one repeats), keeps what it received."""

    def __init__(self, codes=(200,)):
        self.codes = list(codes)
        self.received: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(
                    self.headers.get("X-OMS-Signature", ""), f"sha256={expected}"
                )
                server.received.append(
                    {
                        "signed": signed,
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


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(webhooks, "INLINE_BACKOFF_SECONDS", 0)


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


def test_a_failing_channel_is_retried_until_it_answers(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with (
        listening(codes=(503, 200)) as server,
        django_capture_on_commit_callbacks(execute=True),
    ):
        shipped([(product, 1)])

    assert len(server.received) == 2
    assert server.received[0]["body"] == server.received[1]["body"]
    attempts = list(
        WebhookDelivery.objects.order_by("attempt").values_list(
            "attempt", "response_code", "succeeded", "error"
        )
    )
    assert attempts == [
        (1, 503, False, "HTTP 503 Service Unavailable"),
        (2, 200, True, ""),
    ]


def test_a_channel_that_stays_down_gets_a_bounded_number_of_tries(
    listening, shipped, product, django_capture_on_commit_callbacks
):
    with (
        listening(codes=(500,)) as server,
        django_capture_on_commit_callbacks(execute=True),
    ):
        shipped([(product, 1)])
    assert len(server.received) == webhooks.INLINE_ATTEMPTS
    assert not WebhookDelivery.objects.filter(succeeded=True).exists()


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
