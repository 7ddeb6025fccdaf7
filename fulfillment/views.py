"""The carrier endpoint: carriers (or EasyPost) POST tracking updates here.

Authenticated per carrier with its token, compared in constant time, given
as a Bearer token, as the password of basic auth (EasyPost puts it in the
webhook URL) or as EasyPost's `X-Hmac-Signature` over the body. Every
refusal is a 4xx with a JSON body that says what is wrong.
"""

import base64
import binascii
import hashlib
import hmac
import unicodedata

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from core.json_body import JsonBodyError, json_body_read
from fulfillment import tracking_formats
from fulfillment.exceptions import TrackingError
from fulfillment.models import Carrier, TrackingEvent
from fulfillment.postage.voids import postage_refund_record
from fulfillment.services import tracking

MAX_BODY_BYTES = 1024 * 1024


def _error(status: int, message: str, errors: list[str] | None = None):
    body = {"error": message}
    if errors:
        body["errors"] = errors[:100]
    return JsonResponse(body, status=status)


def _presented_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _authenticated(request: HttpRequest, carrier: Carrier, body: bytes) -> bool:
    secret = carrier.webhook_token
    if not secret:
        return False
    token = _presented_token(request)
    if token:
        return hmac.compare_digest(token.encode(), secret.encode())
    signature = request.headers.get("X-Hmac-Signature", "")
    if signature:
        # EasyPost: hex HMAC-SHA256 of the body under the NFKD-normalised secret.
        key = unicodedata.normalize("NFKD", secret).encode()
        expected = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.encode(), expected.encode())
    return False


def _read_body(request: HttpRequest) -> bytes | None:
    """Return the body, or None when it is larger than `MAX_BODY_BYTES`.

    A body sent in chunks has no Content-Length: a server that de-chunks it
    (gunicorn) says so with `wsgi.input_terminated`, and `wsgi.input` is read
    up to the limit. Without either, the body is empty (PEP 3333).
    """
    length = request.headers.get("Content-Length", "")
    if length or not request.environ.get("wsgi.input_terminated"):
        if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return None
        body = request.body
    else:
        stream = request.environ["wsgi.input"]
        body = b""
        while len(body) <= MAX_BODY_BYTES:
            chunk = stream.read(min(64 * 1024, MAX_BODY_BYTES + 1 - len(body)))
            if not chunk:
                break
            body += chunk
    return body if len(body) <= MAX_BODY_BYTES else None


def _easypost_refund(data) -> tuple[str, str] | None:
    """The (EasyPost shipment id, refund status) of an EasyPost refund Event."""
    if not tracking_formats.is_easypost_event(data):
        return None
    result = data.get("result")
    if not str(data.get("description") or "").startswith("refund.") or not (
        isinstance(result, dict) and result.get("object") == "Refund"
    ):
        return None
    return str(result.get("shipment_id") or ""), str(result.get("status") or "")


@csrf_exempt
@never_cache
def carrier_tracking(request: HttpRequest, code: str) -> JsonResponse:
    """Record the tracking updates a carrier posts for its parcels."""
    if request.method != "POST":
        response = _error(405, "POST tracking updates as JSON.")
        response["Allow"] = "POST"
        return response
    body = _read_body(request)
    if body is None:
        return _error(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    carrier = Carrier.objects.filter(code=code, active=True).first()
    if carrier is None or not _authenticated(request, carrier, body):
        return _error(
            401,
            "Unknown carrier or wrong token: send the carrier's token as "
            "'Authorization: Bearer <token>'.",
        )
    try:
        # Not JSON, not UTF-8, nested too deeply, NUL in a string, or a number
        # with more digits than Python reads: a 400 that says which.
        data = json_body_read(body, nul=True)  # its readers drop NUL
    except JsonBodyError as error:
        return _error(400, str(error))
    refund = _easypost_refund(data)
    if refund is not None:
        # EasyPost's `refund.successful` (or other refund) Event: the refund
        # of a voided label was decided.
        changed = postage_refund_record(
            easypost_shipment_id=refund[0], refund_status=refund[1]
        )
        return JsonResponse(
            {"recorded": int(changed), "duplicates": int(not changed), "ignored": 0}
        )
    try:
        # A tracker Event names its number even when every scan is one we do
        # not record (pre-transit): an unknown number is refused all the same.
        numbers = [tracking_formats.easypost_tracking_code(data)]
        if tracking_formats.is_easypost_event(data):
            updates, ignored = tracking_formats.parse_easypost_event(data)
            source = TrackingEvent.Source.EASYPOST
        else:
            updates, ignored = tracking_formats.parse_tracking_json(data), 0
            source = TrackingEvent.Source.CARRIER
        numbers = [number for number in numbers if number]
        report = (
            tracking.tracking_updates_record(
                updates=updates,
                actor=None,
                source=source,
                carrier=carrier,
                tracking_numbers=numbers,
            )
            if updates or numbers
            else tracking.TrackingReport()
        )
    except TrackingError as error:
        messages = {
            400: "The tracking updates are not valid.",
            404: "Unknown tracking number.",
            409: "A shipment cannot take this update.",
        }
        return _error(
            error.status, messages.get(error.status, str(error)), error.errors
        )
    answer = {
        "recorded": len(report.recorded),
        "duplicates": report.duplicates,
        "ignored": ignored,
    }
    if report.voided_label_scans:
        # Scans of a label voided before: taken, and their shipment warned.
        answer["voided_label_scans"] = report.voided_label_scans
    return JsonResponse(answer)
