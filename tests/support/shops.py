"""Local HTTP servers that answer like Shopify's GraphQL Admin API and
WooCommerce's REST API (shapes from their public references), for the
outbox tests. Each keeps what it was asked and can be told to fail first."""

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    """A threaded local server; `fail_with` answers the next requests with
    these codes (or callables) before behaving."""

    def __init__(self):
        self.requests: list[dict] = []
        self.raw = b""
        self.fail_with: list[int] = []
        self.lock = threading.Lock()
        self.ids = itertools.count(1001)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with server.lock:
                    server.requests.append(
                        {
                            "method": method,
                            "path": self.path,
                            "headers": {
                                name.lower(): value
                                for name, value in self.headers.items()
                            },
                            "body": body,
                        }
                    )
                    if server.fail_with:
                        code = server.fail_with.pop(0)
                        return self._send(code, {"errors": "Try again"}, retry=True)
                    server.raw = raw
                    # Header names are case-insensitive, as in HTTP.
                    code, document = server.handle(
                        method, self.path, self.headers, body
                    )
                self._send(code, document)

            def _send(self, code, document, retry=False):
                data = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry and code == 429:
                    self.send_header("Retry-After", "2")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._answer("GET")

            def do_POST(self):  # noqa: N802
                self._answer("POST")

            def do_PUT(self):  # noqa: N802
                self._answer("PUT")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.domain = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeShopify(_Server):
    """Shopify's GraphQL Admin API: orders with fulfillment orders,
    fulfillmentCreate, fulfillmentTrackingInfoUpdate, inventorySetQuantities."""

    TOKEN = "shpat_test_token"
    PATH = "/admin/api/2025-01/graphql.json"

    def __init__(self):
        super().__init__()
        self.orders: dict[str, dict] = {}
        self.fulfillments: dict[str, dict] = {}
        self.inventory: dict[tuple[str, str], int] = {}
        self.throttle_next = 0

    def add_order(self, name: str, lines: dict[str, int]) -> dict:
        number = next(self.ids)
        order = {
            "id": f"gid://shopify/Order/{number}",
            "name": name,
            "fulfillmentOrders": [
                {
                    "id": f"gid://shopify/FulfillmentOrder/{number}",
                    "status": "OPEN",
                    "lineItems": [
                        {
                            "id": f"gid://shopify/FulfillmentOrderLineItem/{number}{i}",
                            "sku": sku,
                            "remainingQuantity": quantity,
                        }
                        for i, (sku, quantity) in enumerate(lines.items())
                    ],
                }
            ],
            "fulfillments": [],
        }
        self.orders[name] = order
        return order

    def operations(self, name: str) -> list[dict]:
        return [
            r["body"]["variables"]
            for r in self.requests
            if r["body"] and f"{name}(" in r["body"]["query"]
        ]

    def handle(self, method, path, headers, body):
        if path != self.PATH or method != "POST":
            return 404, {"errors": "Not Found"}
        if headers.get("X-Shopify-Access-Token") != self.TOKEN:
            return 401, {
                "errors": "[API] Invalid API key or access token (unrecognized "
                "login or wrong password)"
            }
        if self.throttle_next:
            self.throttle_next -= 1
            return 200, {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ]
            }
        query, variables = body["query"], body.get("variables") or {}
        if "shop {" in query:
            # The shape of the Admin API's `shop` query
            # (shopify.dev/docs/api/admin-graphql/latest/queries/shop).
            return 200, {
                "data": {
                    "shop": {"name": "Acme Test Shop", "myshopifyDomain": self.domain}
                }
            }
        if "orders(" in query:
            return 200, {"data": {"orders": {"nodes": self._orders(variables)}}}
        if "fulfillmentCreate(" in query:
            return 200, {"data": {"fulfillmentCreate": self._create(variables)}}
        if "fulfillmentTrackingInfoUpdate(" in query:
            return 200, {
                "data": {"fulfillmentTrackingInfoUpdate": self._tracking(variables)}
            }
        if "inventorySetQuantities(" in query:
            return 200, {"data": {"inventorySetQuantities": self._inventory(variables)}}
        return 200, {"errors": [{"message": "Unknown operation"}]}

    def _orders(self, variables):
        name = variables["query"].removeprefix("name:").strip('"')
        order = self.orders.get(name)
        if order is None:
            return []
        return [
            {
                "id": order["id"],
                "name": order["name"],
                "fulfillments": [
                    {"id": f["id"], "trackingInfo": f["trackingInfo"]}
                    for f in order["fulfillments"]
                ],
                "fulfillmentOrders": {
                    "nodes": [
                        {
                            "id": fo["id"],
                            "status": fo["status"],
                            "supportedActions": [{"action": "CREATE_FULFILLMENT"}]
                            if fo["status"] != "CLOSED"
                            else [],
                            "lineItems": {"nodes": fo["lineItems"]},
                        }
                        for fo in order["fulfillmentOrders"]
                    ]
                },
            }
        ]

    def _create(self, variables):
        fulfillment = variables["fulfillment"]
        items = {
            item["id"]: item
            for order in self.orders.values()
            for fo in order["fulfillmentOrders"]
            for item in fo["lineItems"]
        }
        owners = {
            fo["id"]: order
            for order in self.orders.values()
            for fo in order["fulfillmentOrders"]
        }
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            if group["fulfillmentOrderId"] not in owners:
                return _user_error("Fulfillment order does not exist.")
            for wanted in group["fulfillmentOrderLineItems"]:
                item = items.get(wanted["id"])
                if item is None or wanted["quantity"] > item["remainingQuantity"]:
                    return _user_error(
                        "Invalid fulfillment order line item quantity requested."
                    )
        order = owners[
            fulfillment["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderId"]
        ]
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            for wanted in group["fulfillmentOrderLineItems"]:
                items[wanted["id"]]["remainingQuantity"] -= wanted["quantity"]
        for fo in order["fulfillmentOrders"]:
            if all(item["remainingQuantity"] == 0 for item in fo["lineItems"]):
                fo["status"] = "CLOSED"
        created = {
            "id": f"gid://shopify/Fulfillment/{next(self.ids)}",
            "status": "SUCCESS",
            "trackingInfo": [fulfillment.get("trackingInfo") or {}],
            "input": fulfillment,
        }
        order["fulfillments"].append(created)
        self.fulfillments[created["id"]] = created
        return {
            "fulfillment": {k: created[k] for k in ("id", "status", "trackingInfo")},
            "userErrors": [],
        }

    def _tracking(self, variables):
        fulfillment = self.fulfillments.get(variables["fulfillmentId"])
        if fulfillment is None:
            return _user_error("Fulfillment does not exist.", "fulfillmentId")
        fulfillment["trackingInfo"] = [variables["trackingInfoInput"]]
        return {
            "fulfillment": {
                "id": fulfillment["id"],
                "trackingInfo": fulfillment["trackingInfo"],
            },
            "userErrors": [],
        }

    def _inventory(self, variables):
        data = variables["input"]
        for quantity in data["quantities"]:
            if quantity["quantity"] < 0:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        {
                            "field": ["input", "quantities", "0", "quantity"],
                            "message": "The quantity can't be negative.",
                            "code": "INVALID_QUANTITY_NEGATIVE",
                        }
                    ],
                }
        for quantity in data["quantities"]:
            key = (quantity["inventoryItemId"], quantity["locationId"])
            self.inventory[key] = quantity["quantity"]
        return {
            "inventoryAdjustmentGroup": {
                "id": f"gid://shopify/InventoryAdjustmentGroup/{next(self.ids)}"
            },
            "userErrors": [],
        }


def _user_error(message, field="fulfillment"):
    return {"fulfillment": None, "userErrors": [{"field": [field], "message": message}]}


class FakeWooCommerce(_Server):
    """WooCommerce's REST API v3: orders, order notes, products."""

    KEY = "ck_test:cs_test"
    API = "/wp-json/wc/v3"

    def __init__(self):
        super().__init__()
        self.orders: dict[int, dict] = {}
        self.products: dict[int, dict] = {}

    def add_order(self, order_id: int, status: str = "processing") -> dict:
        self.orders[order_id] = {"id": order_id, "status": status, "notes": []}
        return self.orders[order_id]

    def add_product(self, product_id: int, stock: int = 0) -> dict:
        self.products[product_id] = {
            "id": product_id,
            "manage_stock": True,
            "stock_quantity": stock,
        }
        return self.products[product_id]

    def handle(self, method, path, headers, body):
        expected = "Basic " + base64.b64encode(self.KEY.encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {
                "code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot list resources.",
                "data": {"status": 401},
            }
        parts = path.removeprefix(self.API).strip("/").split("/")
        if parts == ["system_status"] and method == "GET":
            # Abridged from the REST API reference's "Retrieve system status"
            # example (woocommerce.github.io/woocommerce-rest-api-docs).
            return 200, {
                "environment": {
                    "home_url": f"http://{self.domain}",
                    "site_url": f"http://{self.domain}",
                    "version": "8.9.1",
                    "wp_version": "6.5.2",
                },
                "database": {"wc_database_version": "8.9.1"},
                "active_plugins": [],
            }
        if parts[0] == "orders" and len(parts) >= 2:
            order = self.orders.get(int(parts[1]))
            if order is None:
                return 404, {
                    "code": "woocommerce_rest_shop_order_invalid_id",
                    "message": "Invalid ID.",
                    "data": {"status": 404},
                }
            if len(parts) == 3 and parts[2] == "notes":
                if method == "GET":
                    return 200, order["notes"]
                note = {
                    "id": next(self.ids),
                    "author": "WooCommerce",
                    "note": body["note"],
                    "customer_note": bool(body.get("customer_note")),
                }
                order["notes"].append(note)
                return 201, note
            if method == "PUT":
                order["status"] = body.get("status", order["status"])
            return 200, {k: v for k, v in order.items() if k != "notes"}
        if parts[0] == "products" and len(parts) == 2 and method == "PUT":
            product = self.products.get(int(parts[1]))
            if product is None:
                return 404, {
                    "code": "woocommerce_rest_product_invalid_id",
                    "message": "Invalid ID.",
                    "data": {"status": 404},
                }
            product.update(body)
            return 200, product
        return 404, {
            "code": "rest_no_route",
            "message": "No route was found matching the URL and request method.",
            "data": {"status": 404},
        }


class GenericChannel(_Server):
    """A generic channel's webhook endpoint: checks the Standard Webhooks
    signature and keeps every event (`received`); answers 401 when unsigned."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret
        self.received: list[dict] = []
        self.url = f"http://{self.domain}/oms/events"

    def handle(self, method, path, headers, body):
        from standardwebhooks import Webhook, WebhookVerificationError

        try:
            Webhook(self.secret).verify(
                self.raw, {name.lower(): value for name, value in headers.items()}
            )
            signed = True
        except WebhookVerificationError:
            signed = False
        self.received.append(
            {
                "signed": signed,
                "id": headers.get("webhook-id"),
                "event": headers.get("X-OMS-Event"),
                "body": body,
            }
        )
        return (200, {}) if signed else (401, {"error": "bad signature"})
