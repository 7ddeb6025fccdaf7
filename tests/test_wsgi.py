"""oms.wsgi.application, the production entry point: `/api/` through the lean
middleware stack, every other path through settings.MIDDLEWARE in full."""

import base64
import hashlib
import hmac
import io
import json

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from connections.models import InboundMessage
from connections.services.api_keys import channel_api_key_create
from oms import handlers
from oms.wsgi import application
from orders.models import Channel, Order
from tests import factories
from tests.connections.test_api_views import order_body

SECRET = "shpss_wsgi"


def call(method, path, body=b"", host="testserver", query="", length=None, **headers):
    """Call oms.wsgi.application as gunicorn does; return status, headers
    (lower-case names, Set-Cookie values listed) and body. As in Django's test
    client, the test's transaction stays open across the request. `length`
    sends another Content-Length than the body's."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)) if length is None else length,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper()] = value
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = {}
        for name, value in response_headers:
            answer["headers"].setdefault(name.lower(), []).append(value)

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], content


@pytest.fixture
def shop(db):
    return factories.ChannelFactory(
        code="shopify-wsgi", platform=Channel.Platform.SHOPIFY, inbound_secret=SECRET
    )


def shopify_post(delivery="d-1", name="#1"):
    body = json.dumps({"id": 1, "name": name, "line_items": []}).encode()
    signature = base64.b64encode(
        hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    ).decode()
    return call(
        "POST",
        "/api/channels/shopify-wsgi/webhooks/shopify/",
        body,
        X_SHOPIFY_HMAC_SHA256=signature,
        X_SHOPIFY_TOPIC="orders/create",
        X_SHOPIFY_WEBHOOK_ID=delivery,
    )


def test_every_middleware_is_placed_in_or_out_of_the_api_stack():
    assert not handlers.API_MIDDLEWARE & handlers.BROWSER_MIDDLEWARE
    assert set(settings.MIDDLEWARE) <= handlers.API_MIDDLEWARE | (
        handlers.BROWSER_MIDDLEWARE
    )
    assert handlers.api_middleware() == [
        # Every answer carries its request id and is timed (oms.health).
        "core.request_id.RequestIdMiddleware",
        "oms.health.metrics.RequestMetricsMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "core.middleware.ApiJsonMiddleware",
        "oms.csp.ContentSecurityPolicyMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "core.middleware.TryAgainMiddleware",
    ]


def test_api_handler_leaves_the_setting_as_it_was():
    before = list(settings.MIDDLEWARE)

    handlers.ApiHandler()

    assert before == settings.MIDDLEWARE


def test_webhook_through_the_lean_stack(shop):
    status, headers, content = shopify_post()

    assert status == 200, content
    assert json.loads(content) == {
        "received": InboundMessage.objects.get().pk,
        "duplicate": False,
    }
    # What protects every response is still there ...
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["content-length"] == [str(len(content))]
    # ... the browser session's middleware is not: no cookie, no Vary.
    assert "set-cookie" not in headers and "vary" not in headers

    status, _, content = shopify_post()  # the same delivery again
    assert status == 200 and json.loads(content)["duplicate"] is True
    assert InboundMessage.objects.count() == 1


def test_webhook_with_a_bad_signature_refused_through_the_lean_stack(shop):
    status, _, _ = call(
        "POST",
        "/api/channels/shopify-wsgi/webhooks/shopify/",
        b"{}",
        X_SHOPIFY_HMAC_SHA256="bad",
    )

    assert status == 401
    assert not InboundMessage.objects.exists()


def test_api_host_check_kept(shop):
    status, _, _ = call(
        "POST", "/api/channels/shopify-wsgi/webhooks/shopify/", host="evil.example"
    )

    assert status == 400


def test_order_api_through_the_lean_stack(channel, product, stock):
    stock(product, 10)
    key = channel_api_key_create(channel=channel, name="shop")[1]
    auth = {"AUTHORIZATION": f"Bearer {key}"}

    status, headers, content = call(
        "POST", "/api/v1/orders", json.dumps(order_body()).encode(), **auth
    )

    assert status == 201, content
    assert json.loads(content)["external_id"] == "API-1"
    assert Order.objects.get().external_id == "API-1"
    assert "set-cookie" not in headers

    status, _, content = call("GET", "/api/v1/orders/API-1", **auth)
    assert status == 200 and json.loads(content)["external_id"] == "API-1"

    status, _, _ = call("GET", "/api/v1/orders/API-1")  # no key
    assert status == 401


def test_api_docs_page_through_the_lean_stack(db):
    status, headers, content = call("GET", "/api/v1/docs/")

    assert status == 200 and b'id="swagger-ui"' in content
    assert headers["x-frame-options"] == ["DENY"]
    # The lean stack keeps the Content Security Policy: the page's one inline
    # style carries the header's nonce.
    (policy,) = headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">'.encode() in content


def test_admin_gets_the_full_stack(db):
    status, headers, content = call("GET", "/admin/login/")

    assert status == 200
    # CSRF (the login form's token and cookie) and sessions ran.
    assert any(c.strip().startswith("csrftoken=") for c in headers["set-cookie"])
    assert b"csrfmiddlewaretoken" in content
    assert "Cookie" in headers["vary"][0]

    status, _, _ = call("POST", "/admin/login/", b"username=a&password=b")
    assert status == 403  # no CSRF token: refused by CsrfViewMiddleware


def test_admin_page_needs_the_login_the_full_stack_checks(db):
    status, headers, _ = call("GET", "/admin/orders/order/")

    assert status == 302
    assert headers["location"][0].startswith("/admin/login/")


@pytest.mark.django_db
def test_the_api_stack_echoes_the_request_id():
    status, headers, _ = call("GET", "/api/v1/no-such-thing/", X_REQUEST_ID="api-5")
    assert status == 404
    assert headers["x-request-id"] == ["api-5"]
