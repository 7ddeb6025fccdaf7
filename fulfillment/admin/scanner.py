"""What the scanner pages' JSON endpoints share (pack station, pick
confirmation): reading the request body, whole numbers, and a refusal as
`{"ok": false, "error": ...}`."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse

from core.exceptions import DomainError
from fulfillment.exceptions import PackStationBusyError


def json_body(request: HttpRequest) -> dict[str, Any]:
    """Return the request's JSON object, or refuse what is not one."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise DomainError("The station sent a request it could not read; reload.")
    return body


def int_or_none(value: Any, field: str) -> int | None:
    """Return a whole number from JSON (or None when empty), or refuse."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field} must be a whole number, not {value!r}.") from None


def json_refused(error: DomainError) -> JsonResponse:
    """Answer a domain error: 409 when another station holds the shipment."""
    busy = isinstance(error, PackStationBusyError)
    return JsonResponse(
        {"ok": False, "error": str(error), "busy": busy},
        status=409 if busy else 400,
    )
