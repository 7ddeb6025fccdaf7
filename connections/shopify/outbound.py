"""Shopify, through its GraphQL Admin API.

`POST https://{shop}/admin/api/{version}/graphql.json` with the channel's
access token in `X-Shopify-Access-Token`. A shipment becomes a fulfillment
(with tracking number, company and URL) on the order's open fulfillment
orders (`fulfillmentCreate`); a tracking correction is
`fulfillmentTrackingInfoUpdate`; stock is `inventorySetQuantities` on the
mapped inventory item and location.

Throttling (HTTP 429, or the `THROTTLED` GraphQL error) and server errors
are retried; `userErrors` are the shop refusing the request, and are not.
"""

from typing import Any

from django.conf import settings

from connections.http import (
    Answer,
    Outcome,
    SendError,
    access_token,
    request,
    shop_base_url,
)

ORDER_QUERY = """
query OmsOrderForFulfillment($query: String!) {
  orders(first: 1, query: $query) {
    nodes {
      id
      name
      fulfillments(first: 50) { id trackingInfo(first: 5) { number } }
      fulfillmentOrders(first: 20) {
        nodes {
          id
          status
          supportedActions { action }
          lineItems(first: 100) { nodes { id sku remainingQuantity } }
        }
      }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation OmsFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo(first: 5) { number company url } }
    userErrors { field message }
  }
}
"""

TRACKING_UPDATE = """
mutation OmsTrackingUpdate(
  $fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!,
  $notifyCustomer: Boolean
) {
  fulfillmentTrackingInfoUpdate(
    fulfillmentId: $fulfillmentId,
    trackingInfoInput: $trackingInfoInput,
    notifyCustomer: $notifyCustomer
  ) {
    fulfillment { id trackingInfo(first: 5) { number company url } }
    userErrors { field message }
  }
}
"""

INVENTORY_SET = """
mutation OmsInventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""


def api_version() -> str:
    return getattr(settings, "OMS_SHOPIFY_API_VERSION", "2025-01")


def gid(kind: str, value: str) -> str:
    """Return a Shopify global id (`gid://shopify/Kind/123`) from an id or a gid."""
    value = str(value).strip()
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def graphql(
    channel, query: str, variables: dict[str, Any], outcome: Outcome
) -> dict[str, Any]:
    """Run one GraphQL request; return its `data`, or raise SendError."""
    url = f"{shop_base_url(channel)}/admin/api/{api_version()}/graphql.json"
    answer = request(
        "POST",
        url,
        payload={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": access_token(channel)},
    )
    outcome.answers.append(answer)
    return _data(channel, answer)


def _data(channel, answer: Answer) -> dict[str, Any]:
    if answer.code in (401, 403):
        raise SendError(
            f"Shopify refused the access token of channel {channel.code} "
            f"({answer.code}); give the channel a token with the fulfilment and "
            "inventory scopes, then replay.",
            retry=False,
            answer=answer,
        )
    if not answer.ok:
        raise SendError(
            f"Shopify answered {answer.error or answer.code}.",
            retry=answer.retryable,
            answer=answer,
        )
    document = answer.json()
    if not isinstance(document, dict):
        raise SendError("Shopify's answer was not JSON.", retry=True, answer=answer)
    errors = document.get("errors") or []
    if errors:
        codes = {
            (error.get("extensions") or {}).get("code")
            for error in errors
            if isinstance(error, dict)
        }
        text = "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error)
            for error in errors
        )
        raise SendError(
            f"Shopify: {text}",
            retry=bool(codes & {"THROTTLED", "INTERNAL_SERVER_ERROR"}),
            answer=answer,
        )
    return document.get("data") or {}


def _user_errors(result: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if not result:
        raise SendError(f"Shopify did not answer the {what}.", retry=True)
    problems = result.get("userErrors") or []
    if problems:
        text = "; ".join(
            f"{'.'.join(problem.get('field') or [])}: {problem.get('message')}".lstrip(
                ": "
            )
            for problem in problems
        )
        raise SendError(f"Shopify refused the {what}: {text}", retry=False)
    return result


def _shop_order(channel, payload: dict[str, Any], outcome: Outcome) -> dict:
    name = payload["order"]["external_id"]
    data = graphql(channel, ORDER_QUERY, {"query": f'name:"{name}"'}, outcome)
    orders = ((data.get("orders") or {}).get("nodes")) or []
    if not orders:
        raise SendError(
            f"Shopify has no order {name} (order {payload['order']['number']}); "
            "check the channel's shop, then replay.",
            retry=False,
        )
    return orders[0]


def _line_items(
    fulfillment_orders: list[dict], lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Match the shipped SKUs and quantities to open fulfillment order lines."""
    wanted = {}
    for line in lines:
        wanted[line["sku"]] = wanted.get(line["sku"], 0) + line["quantity"]
    chosen: list[dict[str, Any]] = []
    for fulfillment_order in fulfillment_orders:
        actions = {
            action.get("action") for action in fulfillment_order["supportedActions"]
        }
        if "CREATE_FULFILLMENT" not in actions:
            continue
        items = []
        for item in (fulfillment_order.get("lineItems") or {}).get("nodes", []):
            quantity = min(wanted.get(item.get("sku"), 0), item["remainingQuantity"])
            if quantity > 0:
                items.append({"id": item["id"], "quantity": quantity})
                wanted[item["sku"]] -= quantity
        if items:
            chosen.append(
                {
                    "fulfillmentOrderId": fulfillment_order["id"],
                    "fulfillmentOrderLineItems": items,
                }
            )
    return chosen


def fulfillment_create(channel, message, outcome: Outcome) -> None:
    """Create the shipment's fulfillment, with tracking, on the Shopify order.

    Idempotent: a fulfillment with the same tracking number already on the
    order (a previous attempt whose answer was lost) counts as sent.
    """
    payload = message.payload
    tracking = payload.get("tracking") or {}
    order = _shop_order(channel, payload, outcome)
    number = tracking.get("number")
    for existing in order.get("fulfillments") or []:
        numbers = {info.get("number") for info in existing.get("trackingInfo") or []}
        if number and number in numbers:
            outcome.remote_id = existing["id"]
            return
    line_items = _line_items(
        (order.get("fulfillmentOrders") or {}).get("nodes", []), payload["lines"]
    )
    if not line_items:
        raise SendError(
            f"Shopify order {order.get('name')} has nothing open to fulfil for "
            f"shipment {payload['shipment']} (SKUs "
            + ", ".join(line["sku"] for line in payload["lines"])
            + "); it may have been fulfilled in Shopify already.",
            retry=False,
        )
    fulfillment: dict[str, Any] = {
        "lineItemsByFulfillmentOrder": line_items,
        "notifyCustomer": bool(payload.get("notify_customer")),
    }
    if number:
        fulfillment["trackingInfo"] = {
            key: value for key, value in tracking.items() if value
        }
    data = graphql(channel, FULFILLMENT_CREATE, {"fulfillment": fulfillment}, outcome)
    result = _user_errors(data.get("fulfillmentCreate"), "fulfilment")
    outcome.remote_id = (result.get("fulfillment") or {}).get("id", "")


def tracking_update(channel, message, outcome: Outcome, *, fulfillment_id: str) -> None:
    """Give the Shopify fulfillment the shipment's new tracking."""
    tracking = message.payload.get("tracking") or {}
    data = graphql(
        channel,
        TRACKING_UPDATE,
        {
            "fulfillmentId": fulfillment_id,
            "trackingInfoInput": {k: v for k, v in tracking.items() if v},
            "notifyCustomer": bool(message.payload.get("notify_customer")),
        },
        outcome,
    )
    _user_errors(data.get("fulfillmentTrackingInfoUpdate"), "tracking update")
    outcome.remote_id = fulfillment_id


def inventory_set(channel, outcome: Outcome, *, listing, quantity: int) -> None:
    """Set the available quantity of the listed inventory item at its location."""
    if not (listing.shopify_inventory_item_id and listing.shopify_location_id):
        raise SendError(
            f"SKU {listing.product.sku} has no Shopify inventory item and location "
            f"for channel {channel.code}; fill them in under Channel listings.",
            retry=False,
        )
    outcome.sent_quantity = quantity
    data = graphql(
        channel,
        INVENTORY_SET,
        {
            "input": {
                "name": "available",
                "reason": "correction",
                # The OMS is the source of truth for what is available.
                "ignoreCompareQuantity": True,
                "quantities": [
                    {
                        "inventoryItemId": gid(
                            "InventoryItem", listing.shopify_inventory_item_id
                        ),
                        "locationId": gid("Location", listing.shopify_location_id),
                        "quantity": quantity,
                    }
                ],
            }
        },
        outcome,
    )
    result = _user_errors(data.get("inventorySetQuantities"), "stock update")
    outcome.remote_id = (result.get("inventoryAdjustmentGroup") or {}).get("id", "")
