"""The one door to EasyPost: the official client, bounded by a timeout, its
answers turned into plain dicts and its errors into `PostageError` with
EasyPost's own message.

Nothing here touches the database; callers never hold a transaction or a
row lock while they call these functions.
"""

import threading
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import easypost
import requests
from django.conf import settings
from easypost.errors import ApiError, EasyPostError
from easypost.errors import TimeoutError as EasyPostTimeout

from fulfillment.exceptions import FulfillmentError

DEFAULT_API_BASE = "https://api.easypost.com/v2"


class PostageError(FulfillmentError):
    """EasyPost refused or failed; the message is EasyPost's, for the screen."""


class PostageUnavailable(PostageError):
    """EasyPost did not answer in time (or at all): the outcome is unknown and
    the call may be retried after looking the result up."""


def api_base() -> str:
    return getattr(settings, "OMS_EASYPOST_API_BASE", "") or DEFAULT_API_BASE


def timeout() -> int:
    return int(getattr(settings, "OMS_EASYPOST_TIMEOUT", 20))


_clients = threading.local()


def easypost_client(api_key: str) -> easypost.EasyPostClient:
    """Return this thread's client for the key (a session and its
    connections are reused, never shared between threads)."""
    cache = _clients.__dict__.setdefault("by_key", {})
    key = (api_key, api_base(), timeout())
    client = cache.get(key)
    if client is None:
        client = cache[key] = easypost.EasyPostClient(
            api_key, api_base=api_base(), timeout=timeout()
        )
    return client


def _api_message(error: ApiError) -> str:
    message = error.message or "EasyPost refused the request."
    details = []
    body = getattr(error, "json_body", None) or {}
    for item in (body.get("error") or {}).get("errors") or ():
        text = item.get("message") if isinstance(item, dict) else str(item)
        if text and text not in message:
            details.append(
                f"{item.get('field')}: {text}" if item.get("field") else text
            )
    return message + (f" ({'; '.join(details)})" if details else "")


def _call(what: str, function, *args, **kwargs) -> dict[str, Any]:
    try:
        answer = function(*args, **kwargs)
    except EasyPostTimeout as error:
        raise PostageUnavailable(
            f"EasyPost did not answer in time ({what}); try again."
        ) from error
    except ApiError as error:
        if error.http_status is None or error.http_status >= 500:
            raise PostageUnavailable(
                f"EasyPost failed ({what}): {_api_message(error)}"
            ) from error
        raise PostageError(f"EasyPost: {_api_message(error)}") from error
    except EasyPostError as error:
        raise PostageUnavailable(f"EasyPost unreachable ({what}): {error}") from error
    return answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)


def shipment_create(api_key: str, **params) -> dict[str, Any]:
    """Create an EasyPost shipment (it comes back with its rates)."""
    client = easypost_client(api_key)
    return _call("rating", client.shipment.create, **params)


def shipment_retrieve(api_key: str, easypost_id: str) -> dict[str, Any]:
    client = easypost_client(api_key)
    return _call("looking the shipment up", client.shipment.retrieve, easypost_id)


def shipment_buy(api_key: str, easypost_id: str, rate_id: str) -> dict[str, Any]:
    client = easypost_client(api_key)
    return _call("buying", client.shipment.buy, easypost_id, rate={"id": rate_id})


def shipment_refund(api_key: str, easypost_id: str) -> dict[str, Any]:
    client = easypost_client(api_key)
    return _call("voiding", client.shipment.refund, easypost_id)


def tracker_create(api_key: str, tracking_code: str, carrier: str) -> dict[str, Any]:
    client = easypost_client(api_key)
    return _call(
        "creating the tracker",
        client.tracker.create,
        tracking_code=tracking_code,
        carrier=carrier,
    )


def scan_form_create(api_key: str, shipment_ids: list[str]) -> dict[str, Any]:
    client = easypost_client(api_key)
    return _call(
        "creating the scan form",
        client.scan_form.create,
        shipments=[{"id": easypost_id} for easypost_id in shipment_ids],
    )


def address_verify(api_key: str, address: dict[str, Any]) -> dict[str, Any]:
    """Verify an address (EasyPost's `create_and_verify`); a failed check is
    a `PostageError` with EasyPost's message."""
    client = easypost_client(api_key)
    return _call("checking the address", client.address.create_and_verify, **address)


def file_download(url: str) -> bytes:
    """Fetch a label or form file EasyPost points to (https, or the API's own
    host), bounded by the timeout."""
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.netloc != urlsplit(api_base()).netloc:
        raise PostageError(f"EasyPost gave a label address that is not https: {url}")
    session = _clients.__dict__.setdefault("session", requests.Session())
    try:
        response = session.get(url, timeout=timeout())
        response.raise_for_status()
    except requests.Timeout as error:
        raise PostageUnavailable("The label file did not arrive in time.") from error
    except requests.RequestException as error:
        raise PostageUnavailable(
            f"The label file could not be fetched: {error}"
        ) from error
    return response.content


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return None


def plain_rate(rate: dict[str, Any]) -> dict[str, Any]:
    """Keep what the ship form and the preference need of an EasyPost rate."""
    return {
        "id": rate.get("id", ""),
        "carrier": rate.get("carrier", ""),
        "service": rate.get("service", ""),
        "rate": str(rate.get("rate", "")),
        "currency": rate.get("currency", ""),
        "delivery_days": rate.get("delivery_days"),
        "delivery_date": (rate.get("delivery_date") or "")[:10],
        "carrier_account_id": rate.get("carrier_account_id", ""),
    }


def messages_text(shipment: dict[str, Any]) -> str:
    """EasyPost's carrier messages of a rating (why a carrier gave no rate)."""
    return "; ".join(
        f"{m.get('carrier', '')}: {m.get('message', '')}".strip(": ")
        for m in shipment.get("messages") or ()
        if isinstance(m, dict)
    )[:500]


def claim_lease() -> timedelta:
    """How long a purchase in flight keeps others off its shipment."""
    return timedelta(seconds=timeout() * 3 + 30)


def label_bought(answer: dict[str, Any]) -> bool:
    label = answer.get("postage_label") or {}
    return bool(
        answer.get("tracking_code")
        and (label.get("label_url") or label.get("label_zpl_url"))
    )


def label_url(answer: dict[str, Any]) -> str:
    label = answer.get("postage_label") or {}
    if label.get("label_file_type", "").lower().endswith("zpl") or (
        label.get("label_zpl_url")
        and not label.get("label_pdf_url")
        and label.get("label_url", "").endswith(".zpl")
    ):
        return label.get("label_zpl_url") or label.get("label_url", "")
    return label.get("label_pdf_url") or label.get("label_url", "")
