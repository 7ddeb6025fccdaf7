"""A local stand-in for EasyPost's API, for the official client to talk to.

It answers the calls the OMS makes (shipments with rates, buy, retrieve,
refund, trackers, scan forms, address verification) with bodies shaped
after EasyPost's public API reference, and serves the label and form
files its answers point to. Knobs: `delay` (seconds per call), `buy_delay`
(seconds a purchase takes after it is made: a client with a shorter
timeout sees a timeout although the label was bought), `buy_error` (an
EasyPost error for the next purchases), `undeliverable` (street words whose
address check fails), `refund_status` (what a refund answers: submitted,
or rejected), `refund_delay` (seconds a refund takes after it is made),
`scan_form_delay` (the same for a scan form).
"""

import io
import itertools
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pypdf import PdfWriter

RATES = [
    ("USPS", "GroundAdvantage", "5.49", 4, "ca_usps"),
    ("USPS", "Priority", "7.80", 2, "ca_usps"),
    ("UPS", "Ground", "9.10", 5, "ca_ups"),
    ("UPS", "NextDayAir", "31.25", 1, "ca_ups"),
]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=288, height=432)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class FakeEasyPost:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.buy_delay = 0.0
        self.buy_error: tuple[int, str, str] | None = None
        self.undeliverable = ("NOWHERE",)
        self.refund_status = "submitted"
        self.refund_delay = 0.0
        self.scan_form_delay = 0.0
        self.refunds: dict[str, int] = {}
        self.shipments: dict[str, dict] = {}
        self.scan_forms: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[dict] = []
        self.buys: dict[str, int] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.pdf = _blank_pdf()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ---- lifecycle

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base(self) -> str:
        return self.base + "/v2"

    def start(self) -> "FakeEasyPost":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.calls if m == method and re.fullmatch(pattern, p))

    # ---- objects

    def _id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}_{next(self.ids):010d}"

    def _address(self, fields: dict) -> dict:
        return {
            "id": self._id("adr"),
            "object": "Address",
            "mode": "test",
            "created_at": _now(),
            "updated_at": _now(),
            "name": fields.get("name"),
            "company": fields.get("company"),
            "street1": fields.get("street1"),
            "street2": fields.get("street2"),
            "city": fields.get("city"),
            "state": fields.get("state"),
            "zip": fields.get("zip"),
            "country": fields.get("country"),
            "phone": fields.get("phone"),
            "email": fields.get("email"),
            "residential": None,
            "verifications": {},
        }

    def _shipment_create(self, params: dict) -> tuple[int, dict]:
        shipment_id = self._id("shp")
        accounts = params.get("carrier_accounts") or []
        options = params.get("options") or {}
        today = datetime.now(UTC).date()
        rates = [
            {
                "id": self._id("rate"),
                "object": "Rate",
                "mode": "test",
                "service": service,
                "carrier": carrier,
                "carrier_account_id": account,
                "shipment_id": shipment_id,
                "rate": price,
                "currency": "USD",
                "retail_rate": price,
                "retail_currency": "USD",
                "list_rate": price,
                "list_currency": "USD",
                "delivery_days": days,
                "delivery_date": (today + timedelta(days=days)).isoformat()
                + "T00:00:00Z",
                "delivery_date_guaranteed": False,
                "est_delivery_days": days,
                "created_at": _now(),
                "updated_at": _now(),
            }
            for carrier, service, price, days, account in RATES
            if not accounts or account in accounts
        ]
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": "test",
            "reference": params.get("reference"),
            "status": "unknown",
            "is_return": bool(params.get("is_return")),
            "to_address": self._address(params.get("to_address") or {}),
            "from_address": self._address(params.get("from_address") or {}),
            "return_address": self._address(params.get("from_address") or {}),
            "buyer_address": self._address(params.get("to_address") or {}),
            "parcel": {"id": self._id("prcl"), "object": "Parcel", "mode": "test"}
            | (params.get("parcel") or {}),
            "options": {"currency": "USD", "label_format": "PDF"} | options,
            "rates": rates,
            "selected_rate": None,
            "postage_label": None,
            "tracking_code": None,
            "tracker": None,
            "refund_status": None,
            "scan_form": None,
            "messages": [],
            "created_at": _now(),
            "updated_at": _now(),
        }
        with self.lock:
            self.shipments[shipment_id] = shipment
        return 201, shipment

    def _buy(self, shipment_id: str, params: dict) -> tuple[int, dict]:
        with self.lock:
            shipment = self.shipments.get(shipment_id)
            if shipment is None:
                return 404, _error(
                    "NOT_FOUND", "The requested resource could not be found."
                )
            if self.buy_error is not None:
                status, code, message = self.buy_error
                return status, _error(code, message)
            if shipment["postage_label"]:
                return 422, _error(
                    "SHIPMENT.POSTAGE.EXISTS",
                    "Shipment already has postage associated with it.",
                )
            rate_id = (params.get("rate") or {}).get("id")
            rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if rate is None:
                return 422, _error("SHIPMENT.RATE.INVALID", "Invalid rate ID provided.")
            self.buys[shipment_id] = self.buys.get(shipment_id, 0) + 1
            tracking = f"9400{next(self.ids):018d}"
            zpl = shipment["options"].get("label_format") == "ZPL"
            ext = "zpl" if zpl else "pdf"
            label_url = f"{self.base}/files/postage_label/{shipment_id}.{ext}"
            shipment |= {
                "status": "unknown",
                "selected_rate": rate,
                "tracking_code": tracking,
                "postage_label": {
                    "id": f"pl_{shipment_id[4:]}",
                    "object": "PostageLabel",
                    "created_at": _now(),
                    "updated_at": _now(),
                    "date_advance": 0,
                    "integrated_form": "none",
                    "label_date": _now(),
                    "label_resolution": 300,
                    "label_size": "4x6",
                    "label_type": "default",
                    "label_file_type": "application/zpl" if zpl else "application/pdf",
                    "label_url": label_url,
                    "label_pdf_url": None if zpl else label_url,
                    "label_zpl_url": label_url if zpl else None,
                    "label_epl2_url": None,
                },
                "tracker": {
                    "id": f"trk_{shipment_id[4:]}",
                    "object": "Tracker",
                    "mode": "test",
                    "tracking_code": tracking,
                    "status": "pre_transit",
                    "carrier": rate["carrier"],
                    "shipment_id": shipment_id,
                    "public_url": f"https://track.easypost.com/{tracking}",
                },
                "updated_at": _now(),
            }
            answer = dict(shipment)
        if self.buy_delay:
            time.sleep(self.buy_delay)
        return 200, answer

    def _refund(self, shipment_id: str) -> tuple[int, dict]:
        with self.lock:
            shipment = self.shipments.get(shipment_id)
            if shipment is None or not shipment["postage_label"]:
                return 422, _error(
                    "SHIPMENT.REFUND.UNAVAILABLE",
                    "Unable to refund a shipment without postage.",
                )
            if shipment["scan_form"]:
                return 422, _error(
                    "SHIPMENT.REFUND.ERROR",
                    "The shipment is on a scan form and cannot be refunded.",
                )
            if shipment["refund_status"] in ("submitted", "refunded"):
                return 422, _error(
                    "SHIPMENT.REFUND.ERROR",
                    "A refund has already been requested for this shipment.",
                )
            self.refunds[shipment_id] = self.refunds.get(shipment_id, 0) + 1
            shipment["refund_status"] = self.refund_status
            shipment["updated_at"] = _now()
            answer = dict(shipment)
        if self.refund_delay:
            time.sleep(self.refund_delay)
        return 200, answer

    def _scan_form(self, params: dict) -> tuple[int, dict]:
        ids = [s.get("id") for s in params.get("shipments") or ()]
        with self.lock:
            missing = [
                i for i in ids if not (self.shipments.get(i) or {}).get("tracking_code")
            ]
            if not ids or missing:
                return 422, _error(
                    "SCAN_FORM.SHIPMENTS.INVALID",
                    "Shipments must have postage: " + ", ".join(map(str, missing)),
                )
            taken = [
                i
                for i in ids
                if self.shipments[i]["scan_form"] or self.shipments[i]["refund_status"]
            ]
            if taken:
                return 422, _error(
                    "SCAN_FORM.SHIPMENTS.INVALID",
                    "Shipments already on a scan form or refunded: " + ", ".join(taken),
                )
            form_id = f"sf_{next(self.ids):010d}"
            codes = [self.shipments[i]["tracking_code"] for i in ids]
            form = {
                "id": form_id,
                "object": "ScanForm",
                "status": "created",
                "message": None,
                "address": self.shipments[ids[0]]["from_address"],
                "tracking_codes": codes,
                "form_url": f"{self.base}/files/scan_form/{form_id}.pdf",
                "form_file_type": None,
                "batch_id": f"batch_{form_id[3:]}",
                "confirmation": None,
                "created_at": _now(),
                "updated_at": _now(),
            }
            for i in ids:
                self.shipments[i]["scan_form"] = form
            self.scan_forms[form_id] = form
        if self.scan_form_delay:
            time.sleep(self.scan_form_delay)
        return 200, form

    def _verify(self, params: dict) -> tuple[int, dict]:
        address = self._address(params)
        street = f"{params.get('street1', '')} {params.get('street2', '')}".upper()
        if any(word in street for word in self.undeliverable):
            return 422, {
                "error": {
                    "code": "ADDRESS.VERIFY.FAILURE",
                    "message": "Unable to verify address.",
                    "errors": [
                        {
                            "code": "E.ADDRESS.NOT_FOUND",
                            "field": "address",
                            "message": "Address not found",
                            "suggestion": None,
                        }
                    ],
                }
            }
        address["verifications"] = {
            "zip4": {"success": True, "errors": [], "details": None},
            "delivery": {"success": True, "errors": [], "details": {}},
        }
        return 200, {"address": address}

    # ---- HTTP

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str):
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                with fake.lock:
                    fake.calls.append((method, path))
                    fake.bodies.append(body)
                if fake.delay:
                    time.sleep(fake.delay)
                if path.startswith("/files/"):
                    if path.endswith(".zpl"):
                        shipment = fake.shipments.get(path.rsplit("/", 1)[1][:-4], {})
                        code = shipment.get("tracking_code") or ""
                        return self._send(
                            200,
                            f"^XA^FO40,40^A0N,40,40^FDEASYPOST {code}^FS"
                            f"^FO40,120^BCN,120,Y,N,N^FD{code}^FS^XZ".encode(),
                            "application/zpl",
                        )
                    return self._send(200, fake.pdf, "application/pdf")
                if not (self.headers.get("Authorization") or "").startswith(
                    "Bearer EZ"
                ):
                    return self._send(
                        401, _error("APIKEY.REQUIRED", "Invalid API key.")
                    )
                match = re.fullmatch(r"/v2/shipments/(shp_\w+)(/\w+)?", path)
                if method == "POST" and path == "/v2/shipments":
                    return self._send(
                        *fake._shipment_create(body.get("shipment") or {})
                    )
                if match and method == "GET" and not match.group(2):
                    shipment = fake.shipments.get(match.group(1))
                    if shipment is None:
                        return self._send(404, _error("NOT_FOUND", "Not found."))
                    return self._send(200, shipment)
                if match and method == "POST" and match.group(2) == "/buy":
                    return self._send(*fake._buy(match.group(1), body))
                if match and method == "POST" and match.group(2) == "/refund":
                    return self._send(*fake._refund(match.group(1)))
                if method == "POST" and path == "/v2/trackers":
                    tracker = body.get("tracker") or {}
                    return self._send(
                        200,
                        {
                            "id": fake._id("trk"),
                            "object": "Tracker",
                            "mode": "test",
                            "tracking_code": tracker.get("tracking_code"),
                            "carrier": tracker.get("carrier"),
                            "status": "unknown",
                            "tracking_details": [],
                        },
                    )
                if method == "POST" and path == "/v2/scan_forms":
                    return self._send(*fake._scan_form(body.get("scan_form") or {}))
                if method == "POST" and path == "/v2/addresses/create_and_verify":
                    return self._send(*fake._verify(body.get("address") or {}))
                return self._send(404, _error("NOT_FOUND", "Not found."))

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

        return Handler


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "errors": []}}
