"""What a Shopify or WooCommerce order webhook asks for, by its topic and the
order's state in the shop: take the order in, change it, cancel it, or
nothing (said why)."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from connections.inbox.applying import (
    Batch,
    Outcome,
    note_once,
    order_change,
    order_drop,
    order_find,
    order_take,
)
from connections.inbox.payload import FieldProblem, PayloadError, payload_check
from connections.inbox.refunding import shopify_refund_apply
from connections.models import InboundMessage
from connections.shopify import inbound as shopify
from connections.woocommerce import inbound as woocommerce
from orders.models import Order

Status = InboundMessage.Status
Source = InboundMessage.Source


def shopify_apply(message: InboundMessage, body: Any, batch: Batch | None) -> Outcome:
    """Apply a Shopify `orders/*` (or `refunds/create`) webhook.

    A cancellation that comes before its order (`orders/cancelled`, or an
    update showing the order cancelled) is kept until the order arrives; an
    `orders/updated` or `orders/paid` of an order here is applied as a change
    of it (`shopify_update`), of one not here it takes the order in.
    """
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    if message.topic == shopify.REFUND_TOPIC:
        return shopify_refund_apply(message, body, batch)
    external_id = shopify.shopify_external_id(body)
    order = order_find(message.channel, external_id, batch)
    cancelled = shopify.shopify_is_cancelled(body)
    if message.topic == "orders/cancelled" or (
        cancelled and message.topic != "orders/create"
    ):
        return order_drop(message, order, external_id, "Shopify", batch)
    if cancelled:
        if order is not None:
            return order_drop(message, order, external_id, "Shopify", batch)
        return Outcome(
            Status.IGNORED, error="Cancelled in Shopify before it came here."
        )
    if message.topic not in shopify.TOPICS:
        return Outcome(Status.IGNORED, error=f"Topic {message.topic!r} is not read.")
    api_body = shopify.shopify_order_body(body)
    if order is not None and message.topic in ("orders/updated", "orders/paid"):
        return shopify_update(message, order, body, api_body)
    return order_take(message, payload_check(api_body), batch)


def shopify_update(
    message: InboundMessage, order: Order, body: dict, api_body: dict
) -> Outcome:
    """Apply an `orders/updated` in Shopify's `updated_at` order: an older
    update arriving after a newer one is ignored. Address and shipping
    changes go through `order_update` (staff rules); line changes are
    refused, on the timeline and the message."""
    stale = shopify_update_stale(message, order, body)
    if stale:
        return Outcome(Status.IGNORED, order, error=stale)
    refused_lines = shopify_line_changes(order, body)
    outcome = order_change(message, order, api_body, "Shopify")
    if refused_lines:
        note_once(outcome.order or order, refused_lines, message)
        outcome.error = " ".join(filter(None, [refused_lines, outcome.error]))
    return outcome


def shopify_update_stale(message: InboundMessage, order: Order, body: dict) -> str:
    """Say why this update is older than one already applied, or ""."""
    return update_stale(
        message,
        order,
        shopify.shopify_updated_at(body),
        shopify.shopify_updated_at,
        platform="Shopify",
        field_name="updated_at",
    )


def update_stale(
    message: InboundMessage,
    order: Order,
    moment: datetime | None,
    moment_of: Callable[[Any], datetime | None],
    *,
    platform: str,
    field_name: str,
) -> str:
    """Say why this update (changed in the shop at `moment`) is older than one
    already applied to the order (each read with `moment_of`), or "": the
    shop's own time orders its updates, not their arrival."""
    if moment is None:
        return ""
    applied = (
        InboundMessage.objects.filter(
            order=order, source=message.source, status=Status.PROCESSED
        )
        .exclude(pk=message.pk)
        .values_list("body", flat=True)
    )
    newest = None
    for earlier in applied:
        try:
            applied_at = moment_of(json.loads(earlier))
        except ValueError:
            continue
        if applied_at is not None and (newest is None or applied_at > newest):
            newest = applied_at
    if newest is None or moment >= newest:
        return ""
    return (
        f"Not applied: this {platform} update ({field_name} {moment.isoformat()}) "
        f"is older than one already applied ({field_name} {newest.isoformat()}); "
        "it arrived late."
    )


def shopify_line_changes(order: Order, body: dict) -> str:
    """Describe how Shopify's lines differ from the order's, or ""."""
    wanted = shopify.shopify_line_quantities(body)
    if not wanted:
        return ""
    held: dict[str, int] = {}
    for sku, quantity in order.lines.values_list("sku", "quantity"):
        held[sku] = held.get(sku, 0) + quantity
    if wanted == held:
        return ""
    changes = [
        f"{sku} {held.get(sku, 0)} → {wanted.get(sku, 0)}"
        for sku in sorted(set(wanted) | set(held))
        if held.get(sku, 0) != wanted.get(sku, 0)
    ]
    return (
        f"Shopify changed the lines of order {order.number} ({', '.join(changes)}); "
        "not applied: order lines are not edited here after intake. Cancel the "
        "order in Shopify and place it again, or change the shipment by hand."
    )


def woocommerce_apply(
    message: InboundMessage, body: Any, batch: Batch | None
) -> Outcome:
    """Apply a WooCommerce `order.*` webhook, in the shop's `date_modified_gmt`
    order: an update older than one already applied is ignored."""
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    if message.topic == "order.deleted":
        external_id = str(body.get("id", "")).strip()
        order = order_find(message.channel, external_id, batch)
        return order_drop(message, order, external_id, "WooCommerce", batch)
    if message.topic not in woocommerce.TOPICS:
        return Outcome(Status.IGNORED, error=f"Topic {message.topic!r} is not read.")
    external_id = woocommerce.woocommerce_external_id(body)
    order = order_find(message.channel, external_id, batch)
    if order is not None:
        stale = update_stale(
            message,
            order,
            woocommerce.woocommerce_modified_at(body),
            woocommerce.woocommerce_modified_at,
            platform="WooCommerce",
            field_name="date_modified_gmt",
        )
        if stale:
            return Outcome(Status.IGNORED, order, error=stale)
    status = woocommerce.woocommerce_status(body)
    if status in woocommerce.CANCELLED_STATUSES:
        if order is None and message.topic == "order.created":
            return Outcome(
                Status.IGNORED, error=f"Order {external_id} is {status} in WooCommerce."
            )
        # An update that cancels an order not here yet is kept until the order
        # arrives (applying.order_early).
        return order_drop(
            message,
            order,
            external_id,
            "WooCommerce",
            batch,
            reported=f"Order {external_id} is {status} in WooCommerce",
        )
    api_body = woocommerce.woocommerce_order_body(body)
    if order is not None:
        # Checked as a change (address, shipping), never as a new order: its
        # lines are not taken again.
        return order_change(message, order, api_body, "WooCommerce")
    if status not in woocommerce.IMPORTED_STATUSES:
        return Outcome(
            Status.IGNORED,
            error=f"Order {external_id} is {status or 'without a status'} in "
            "WooCommerce; it is taken once it is processing (paid).",
        )
    return order_take(message, payload_check(api_body), batch)
