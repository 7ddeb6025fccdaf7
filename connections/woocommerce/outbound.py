"""WooCommerce, through its REST API (`/wp-json/wc/v3/`).

Authenticated with the store's REST API key as HTTP basic auth: the channel's
access token holds `ck_…:cs_…` (consumer key, a colon, consumer secret). A
shipment becomes an order note with carrier and tracking (`POST
orders/{id}/notes`, shown to the customer); once everything has shipped the
order is set to completed (`PUT orders/{id}`). Stock is the product's
`stock_quantity` (`PUT products/{id}`).

WooCommerce answers errors as `{"code", "message", "data": {"status"}}`;
429 and server errors are retried, the rest are the shop refusing.
"""

import base64
from typing import Any

from connections.http import (
    Answer,
    Outcome,
    SendError,
    access_token,
    request,
    shop_base_url,
)

API = "/wp-json/wc/v3"
# Marks a note as ours, so a retry never writes the same note twice.
NOTE_MARK = "[OMS {key}]"


def _authorization(channel) -> str:
    token = access_token(channel)
    key, _, secret = token.partition(":")
    if not (key.startswith("ck_") and secret.startswith("cs_")):
        raise SendError(
            f"The access token of channel {channel.code} must be the WooCommerce "
            "REST API key as ck_…:cs_… (consumer key, a colon, consumer secret).",
            retry=False,
        )
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def call(channel, method: str, path: str, outcome: Outcome, payload: Any = None) -> Any:
    """Make one REST call; return the decoded answer, or raise SendError."""
    answer = request(
        method,
        f"{shop_base_url(channel)}{API}{path}",
        payload=payload,
        headers={"Authorization": _authorization(channel)},
    )
    outcome.answers.append(answer)
    if not answer.ok:
        raise _refusal(channel, answer)
    return answer.json()


def _refusal(channel, answer: Answer) -> SendError:
    document = answer.json()
    detail = document.get("message") if isinstance(document, dict) else None
    if answer.code in (401, 403):
        return SendError(
            f"WooCommerce refused the API key of channel {channel.code} "
            f"({detail or answer.code}); give it a read/write key, then replay.",
            retry=False,
            answer=answer,
        )
    return SendError(
        f"WooCommerce answered {answer.error or answer.code}"
        + (f": {detail}" if detail else "."),
        retry=answer.retryable,
        answer=answer,
    )


def order_id(payload: dict[str, Any]) -> int:
    """Return the WooCommerce order id the OMS order came in as."""
    external_id = str(payload["order"]["external_id"]).strip().lstrip("#")
    if not external_id.isdigit():
        raise SendError(
            f"Order {payload['order']['number']} has external id "
            f"{payload['order']['external_id']!r}, which is not a WooCommerce order "
            "id.",
            retry=False,
        )
    return int(external_id)


def note_text(payload: dict[str, Any]) -> str:
    tracking = payload.get("tracking") or {}
    carrier = tracking.get("company") or "our own delivery"
    if payload.get("kind") == "fulfillment.tracking_update":
        text = f"Tracking of shipment {payload['shipment']} changed: {carrier}"
    else:
        text = f"Shipment {payload['shipment']} has left the warehouse with {carrier}"
    if tracking.get("number"):
        text += f", tracking number {tracking['number']}"
    if tracking.get("url"):
        text += f" ({tracking['url']})"
    return f"{text}. " + NOTE_MARK.format(key=payload["key"])


def order_shipped(channel, message, outcome: Outcome) -> None:
    """Add the shipment's note to the order; complete it when all has shipped.

    Idempotent: the note carries a mark, and is not added again when a
    previous attempt already did; completing twice changes nothing.
    """
    payload = message.payload
    shop_base_url(channel)  # an unconnected channel fails before anything else
    woo_id = order_id(payload)
    notes = call(channel, "GET", f"/orders/{woo_id}/notes", outcome) or []
    mark = NOTE_MARK.format(key=payload["key"])
    if not any(mark in str(note.get("note", "")) for note in notes):
        note = call(
            channel,
            "POST",
            f"/orders/{woo_id}/notes",
            outcome,
            {"note": note_text(payload), "customer_note": True},
        )
        outcome.remote_id = str((note or {}).get("id", ""))
    if payload.get("complete"):
        order = call(
            channel, "PUT", f"/orders/{woo_id}", outcome, {"status": "completed"}
        )
        if (order or {}).get("status") not in (None, "completed"):
            raise SendError(
                f"WooCommerce kept order {woo_id} {order.get('status')}.", retry=False
            )


def product_stock_set(channel, outcome: Outcome, *, listing, quantity: int) -> None:
    """Set the listed product's stock quantity."""
    if not listing.woocommerce_product_id:
        raise SendError(
            f"SKU {listing.product.sku} has no WooCommerce product id for channel "
            f"{channel.code}; fill it in under Channel listings.",
            retry=False,
        )
    outcome.sent_quantity = quantity
    product = call(
        channel,
        "PUT",
        f"/products/{listing.woocommerce_product_id}",
        outcome,
        {"manage_stock": True, "stock_quantity": quantity},
    )
    outcome.remote_id = str((product or {}).get("id", ""))
