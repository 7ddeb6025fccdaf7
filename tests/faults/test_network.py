"""Network faults: a mail server that accepts and never answers, a channel
endpoint that is down, slow or answering 500. None of them may hold a Ship
longer than one bounded attempt, hold a row lock while it waits, or lose
the message: the e-mail stays queued (or failed, visibly), the webhook's
outbox message logs its failed attempt with the retry scheduled, and the
periodic sweep delivers it once the endpoint is back."""

import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, connections
from django.utils import timezone

from connections.models import OutboundMessage, OutboxDestination
from connections.outbox import sending
from core.tasks import periodic_schedule
from fulfillment.models import Shipment
from fulfillment.services.packing import shipment_pack
from fulfillment.services.picking import pick_lists_create
from fulfillment.services.shipping import shipment_ship
from orders.models import EmailKind
from tests.support.emails import customer_emails

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Small bounds so each fault costs the suite a second, not a minute.
EMAIL_TIMEOUT = 0.5
WEBHOOK_TIMEOUT = 0.5
# What one bounded attempt may cost on a slow, busy CI machine (the SQLite and
# PostgreSQL runs share its two cores), beyond the timeout. Still under the
# 10 s and 10 s the production timeouts (OMS_OUTBOX_TIMEOUT, EMAIL_TIMEOUT)
# would cost if the code ignored the settings these tests lower.
SLACK = 4.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SilentSMTPServer:
    """Accepts connections and never says a word (no 220 greeting)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.held.append(client)
            self.connected.set()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.listener.close()
        for client in self.held:
            client.close()


class ChannelEndpoint:
    """A channel's webhook endpoint: `mode` is "ok" (200), "error" (500),
    "slow" (answers shipment updates after `slow_seconds`) or "down"
    (nothing listens)."""

    def __init__(self, mode: str, slow_seconds: float = 3.0):
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.received: list[bytes] = []
        self.answered: list[int] = []
        self.busy = threading.Event()
        self.port = free_port()
        self.httpd = None

    def _handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not self.headers.get("X-OMS-Event", "").startswith("shipment."):
                    # The outbox's order and stock events: answered, not counted.
                    self.send_response(200 if endpoint.mode != "error" else 500)
                    self.end_headers()
                    return
                endpoint.received.append(body)
                endpoint.busy.set()
                if endpoint.mode == "slow":
                    time.sleep(endpoint.slow_seconds)
                code = 500 if endpoint.mode == "error" else 200
                endpoint.answered.append(code)
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(
                        b'{"ok": %s}' % (b"true" if code == 200 else b"false")
                    )
                except OSError:
                    pass  # the sender gave up long ago

            def log_message(self, *args):
                pass

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/oms"

    def start(self):
        if self.mode == "down" or self.httpd is not None:
            return
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def recover(self):
        """The endpoint is back: it answers 200 at once."""
        self.mode = "ok"
        self.start()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def packed(stock, place_order, user, product):
    """A packed shipment, ready for Ship."""

    def make():
        stock(product, 1)
        order = place_order([(product, 1)])
        pick_lists_create(order_ids=[order.pk], actor=user)
        shipment = Shipment.objects.get(order=order)
        shipment_pack(shipment=shipment, actor=user)
        return Shipment.objects.get(pk=shipment.pk)

    return make


def ship(shipment, user, carrier, capture=None) -> float:
    """Ship as a request does, with what runs after commit (the immediate
    backend: e-mail and webhook tasks); return the seconds it all took."""
    started = time.monotonic()
    if capture is None:  # real commits (PostgreSQL proofs)
        shipment_ship(
            shipment=shipment, actor=user, carrier=carrier, tracking_number="TR-1"
        )
    else:
        with capture(execute=True):
            shipment_ship(
                shipment=shipment, actor=user, carrier=carrier, tracking_number="TR-1"
            )
    return time.monotonic() - started


@pytest.fixture
def silent_mail(settings):
    with SilentSMTPServer() as server:
        settings.EMAIL_BACKEND = SMTP_BACKEND
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = EMAIL_TIMEOUT
        yield server


# ---- a mail server that accepts and never answers


@pytest.mark.django_db
def test_a_silent_mail_server_does_not_hold_the_ship(
    silent_mail, packed, user, carrier, django_capture_on_commit_callbacks
):
    shipment = packed()

    elapsed = ship(shipment, user, carrier, django_capture_on_commit_callbacks)

    assert silent_mail.connected.is_set()  # it really tried the mail server
    # One bounded attempt, then the e-mail waits for its retry.
    assert elapsed < EMAIL_TIMEOUT + SLACK, f"Ship took {elapsed:.1f} s"
    email = customer_emails(EmailKind.SHIPPED, order=shipment.order).get()
    assert email.status in ("pending", "failed")
    assert "timed out" in email.last_error.lower()


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_mail_server_is_silent(
    silent_mail, packed, user, carrier
):
    shipment = packed()
    outcome = _ship_in_thread(shipment, user, carrier)

    # While the send waits on the mail server, the order and the shipment are
    # free: the e-mail goes out after commit, outside any transaction.
    assert silent_mail.connected.wait(10), "the mail server was never called"
    _assert_unlocked(shipment)

    outcome["thread"].join(20)
    assert not outcome["thread"].is_alive()
    assert outcome.get("error") is None, outcome.get("error")
    email = customer_emails(EmailKind.SHIPPED, order=shipment.order).get()
    assert email.status in ("pending", "failed")


# ---- a channel endpoint that is down, slow, or answering 500


@pytest.fixture
def channel_endpoint(settings, channel):
    settings.OMS_OUTBOX_TIMEOUT = WEBHOOK_TIMEOUT
    opened = []

    def open_endpoint(mode):
        endpoint = ChannelEndpoint(mode).__enter__()
        opened.append(endpoint)
        channel.webhook_url = endpoint.url
        channel.webhook_secret = "whsec_c2VjcmV0LWtleS1mb3ItZmF1bHRz"
        channel.save()
        return endpoint

    yield open_endpoint
    for endpoint in opened:
        endpoint.__exit__(None, None, None)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["down", "slow", "error"])
def test_a_failing_channel_costs_the_ship_one_bounded_attempt(
    channel_endpoint, packed, user, carrier, django_capture_on_commit_callbacks, mode
):
    endpoint = channel_endpoint(mode)
    shipment = packed()

    elapsed = ship(shipment, user, carrier, django_capture_on_commit_callbacks)

    assert elapsed < WEBHOOK_TIMEOUT + SLACK, f"Ship took {elapsed:.1f} s"
    [failed] = OutboundMessage.objects.filter(kind="shipment.shipped")
    [attempt] = failed.attempt_log.all()
    assert (failed.attempts, failed.status, attempt.succeeded) == (
        1,
        "pending",
        False,
    )
    assert attempt.response_code == (500 if mode == "error" else None)
    expected_error = {
        "down": "refused",
        "slow": "timed out",
        "error": "HTTP 500",
    }[mode]
    assert expected_error in attempt.error
    retry_in = (failed.next_attempt_at - timezone.now()).total_seconds()
    assert 30 < retry_in <= 72  # scheduled (a minute ±20 %), not slept on
    # The channel did not answer: it is paused, its messages wait for it.
    paused = OutboxDestination.objects.get(key=f"channel:{failed.channel_id}")
    assert paused.failures == 1 and expected_error in paused.last_error

    # The endpoint comes back; time passes; the periodic sweep delivers it once.
    endpoint.recover()
    OutboundMessage.objects.filter(pk=failed.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    OutboxDestination.objects.filter(pk=paused.pk).update(
        paused_until=timezone.now() - timedelta(seconds=1)
    )
    schedule = periodic_schedule()
    assert schedule["connections.outbox.sending.outbox_send_due"] == "* * * * * */15"
    sending.outbox_send_due()
    sending.outbox_send_due()  # a second slot finds nothing due

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.response_code) == ("sent", 2, 200)
    assert failed.next_attempt_at is None
    assert endpoint.answered.count(200) == 1
    # Its first answer cleared the pause.
    paused.refresh_from_db()
    assert (paused.failures, paused.paused_until) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_channel_is_slow(
    channel_endpoint, packed, user, carrier
):
    endpoint = channel_endpoint("slow")
    shipment = packed()
    outcome = _ship_in_thread(shipment, user, carrier)

    assert endpoint.busy.wait(10), "the channel was never called"
    _assert_unlocked(shipment)

    outcome["thread"].join(20)
    assert outcome.get("error") is None, outcome.get("error")
    assert outcome["elapsed"] < WEBHOOK_TIMEOUT + SLACK
    failed = OutboundMessage.objects.get(kind="shipment.shipped")
    assert failed.status == "pending" and failed.next_attempt_at is not None


# ---- helpers for the PostgreSQL proofs


def _ship_in_thread(shipment, user, carrier) -> dict:
    """Ship on another connection, committing for real (as a request does)."""
    outcome: dict = {}

    def run():
        try:
            outcome["elapsed"] = ship(shipment, user, carrier)
        except Exception as error:  # reported by the test
            outcome["error"] = error
        finally:
            connections.close_all()

    outcome["thread"] = threading.Thread(target=run)
    outcome["thread"].start()
    return outcome


def _assert_unlocked(shipment) -> None:
    """Lock the order and the shipment at once (NOWAIT) from this connection."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute(
                "SELECT id FROM orders_order WHERE id = %s FOR UPDATE NOWAIT",
                [shipment.order_id],
            )
            cursor.execute(
                "SELECT id FROM fulfillment_shipment WHERE id = %s FOR UPDATE NOWAIT",
                [shipment.pk],
            )
        finally:
            cursor.execute("ROLLBACK")
