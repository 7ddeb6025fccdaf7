"""Shop webhooks: verified like the platform signs them, stored, answered.

Each request does only this: find the channel (cached for a few seconds),
check the signature over the raw body, store the message (one INSERT) and
answer 200. The worker drains the inbox (connections.inbox.draining). The requests
come through the lean `/api/` middleware stack (oms/handlers.py) and read
their few headers straight from the WSGI environ.
"""

import base64
import hashlib
import hmac
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connections.inbox.storing import inbound_store
from connections.models import InboundMessage
from connections.shopify.inbound import shopify_external_id
from connections.sql import read_first
from connections.woocommerce.inbound import woocommerce_external_id
from core.json_body import JsonBodyError, json_body_read
from orders.models import Channel

Source = InboundMessage.Source
# Headers kept with the message (what a replay or a person needs).
SHOPIFY_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Api-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
)
WOOCOMMERCE_HEADERS = (
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Delivery-ID",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Source",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
)


def signature_valid(secret: str, body: bytes, presented: str) -> bool:
    """Check a base64 HMAC-SHA256 of the body, as Shopify and WooCommerce sign."""
    if not secret or not presented:
        return False
    expected = base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), presented.strip().encode())


def _channel(code: str) -> Channel | None:
    """The active channel with this code, read on every delivery (one indexed
    query, what a hit in the database cache would cost, standing in for the
    connection's health check): a changed secret or a deactivated channel
    counts at once."""
    return read_first(lambda: Channel.objects.filter(code=code, active=True).first())


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _meta_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


# (header name, its key in request.META) of the headers kept.
_SHOPIFY_KEPT = tuple((name, _meta_key(name)) for name in SHOPIFY_HEADERS)
_WOOCOMMERCE_KEPT = tuple((name, _meta_key(name)) for name in WOOCOMMERCE_HEADERS)


def _header(request: HttpRequest, name: str) -> str:
    # request.META, not request.headers: that would parse every header.
    return request.META.get(_meta_key(name), "")


def _kept(request: HttpRequest, names: tuple[tuple[str, str], ...]) -> dict[str, str]:
    meta = request.META
    return {name: meta[key] for name, key in names if key in meta}


def _read(body: bytes, reader) -> tuple[str, str]:
    """Return the order's external id (for the admin list; processing reads
    the body again) and why the body cannot be processed ("" when it can)."""
    try:
        # Only the parser's own limit here: the answer needs the order's id
        # (a top-level key) and the rest is stored as text; the worker reads
        # only the keys it maps.
        data: Any = json_body_read(body, max_depth=None)
    except JsonBodyError as error:
        return "", str(error)
    if not isinstance(data, dict):
        return "", _(
            "The body is JSON but not an object (it is %(kind)s); an order "
            "webhook sends the order as a JSON object."
        ) % {"kind": type(data).__name__}
    return reader(data), ""


def _stored(message: InboundMessage, new: bool) -> HttpResponse:
    # Every acknowledgement: two values, formatted rather than serialised.
    return HttpResponse(
        b'{"received": %d, "duplicate": %s}'
        % (message.pk, b"false" if new else b"true"),
        content_type="application/json",
    )


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, code: str) -> HttpResponse:
    """Receive a Shopify `orders/*` webhook for a channel."""
    channel = _channel(code)
    if channel is None:
        return _refuse(404, f"No active channel {code!r}.")
    body = request.body
    if not signature_valid(
        channel.inbound_secret, body, _header(request, "X-Shopify-Hmac-Sha256")
    ):
        return _refuse(401, "The X-Shopify-Hmac-Sha256 signature does not match.")
    external_id, unreadable = _read(body, shopify_external_id)
    message, new = inbound_store(
        channel=channel,
        source=Source.SHOPIFY,
        topic=_header(request, "X-Shopify-Topic"),
        delivery_id=_header(request, "X-Shopify-Webhook-Id"),
        body=body,
        headers=_kept(request, _SHOPIFY_KEPT),
        external_id=external_id,
        unreadable=unreadable,
    )
    return _stored(message, new)


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest, code: str) -> HttpResponse:
    """Receive a WooCommerce `order.*` webhook (or its ping) for a channel."""
    channel = _channel(code)
    if channel is None:
        return _refuse(404, f"No active channel {code!r}.")
    body = request.body
    topic = _header(request, "X-WC-Webhook-Topic")
    if body.startswith(b"webhook_id="):
        # Saving a webhook in WooCommerce pings it (a form, not an order); it
        # must see 200 or WooCommerce will not save the webhook.
        return JsonResponse({"pong": True})
    if not signature_valid(
        channel.inbound_secret, body, _header(request, "X-WC-Webhook-Signature")
    ):
        return _refuse(401, "The X-WC-Webhook-Signature signature does not match.")
    external_id, unreadable = _read(body, woocommerce_external_id)
    message, new = inbound_store(
        channel=channel,
        source=Source.WOOCOMMERCE,
        topic=topic,
        delivery_id=_header(request, "X-WC-Webhook-Delivery-ID"),
        body=body,
        headers=_kept(request, _WOOCOMMERCE_KEPT),
        external_id=external_id,
        unreadable=unreadable,
    )
    return _stored(message, new)
